import asyncio
import errno
import io
import json
import secrets
import shutil
import struct
import tarfile
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from runakode.errors import SandboxError
from runakode.sandboxes.ownership import LABEL_OWNER, LABEL_SANDBOX, owner_id

DEFAULT_SOCKET = "/var/run/docker.sock"
STREAM_HEADER = struct.Struct(">BxxxI")
STDOUT, STDERR = 1, 2
ATTACH_QUERY = "stream=1&stdin=1&stdout=1&stderr=1"


class AttachedStream:
    """A hijacked attach connection: write the container's stdin, read its multiplexed output."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def send(self, data: bytes) -> None:
        """ConnectionError once the container or the engine closed the connection."""
        if self._writer.is_closing():
            raise ConnectionResetError("the attach connection is closed")
        self._writer.write(data)
        await self._writer.drain()

    def end_input(self) -> None:
        """Close the container's stdin (attached with StdinOnce), keep reading its output."""
        if not self._writer.is_closing() and self._writer.can_write_eof():
            self._writer.write_eof()

    async def frames(self) -> AsyncIterator[tuple[int, bytes]]:
        while True:
            try:
                header = await self._reader.readexactly(STREAM_HEADER.size)
                stream, size = STREAM_HEADER.unpack(header)
                payload = await self._reader.readexactly(size)
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            yield stream, payload

    def close(self) -> None:
        self._writer.close()


def _never_started(image: str) -> dict[str, Any]:
    # Labelled as the sandboxes are: if this process dies before removing the container, the
    # orphan sweep of a later process on this host removes it.
    labels = {LABEL_SANDBOX: "1", LABEL_OWNER: owner_id()}
    return {"Image": image, "Cmd": ["true"], "Labels": labels}


class DockerClient:
    """The few Docker Engine API calls the sandbox needs, over the engine's unix socket."""

    def __init__(self, socket_path: str = DEFAULT_SOCKET, timeout_s: float = 15.0) -> None:
        self._socket_path = socket_path
        self._http = httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=socket_path),
            base_url="http://docker",
            timeout=timeout_s,
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        ok: tuple[int, ...] = (200, 201, 204),
        timeout_s: float | None = None,
    ) -> Any:
        try:
            response = await self._http.request(
                method,
                path,
                params=params,
                json=body,
                timeout=timeout_s if timeout_s is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.HTTPError as exc:
            raise SandboxError(f"docker engine unreachable: {type(exc).__name__}: {exc}") from exc
        if response.status_code not in ok:
            try:
                detail = response.json().get("message", response.text)
            except ValueError:
                detail = response.text
            raise SandboxError(f"docker {method} {path}: {response.status_code} {detail}")
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return response.text

    async def ping(self, timeout_s: float = 2.0) -> None:
        await self._request("GET", "/_ping", timeout_s=timeout_s)

    async def info(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._request("GET", "/info")
        return result

    async def image_exists(self, image: str) -> bool:
        try:
            await self.inspect_image(image)
        except SandboxError:
            return False
        return True

    async def inspect_image(self, image: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._request("GET", f"/images/{quote(image, safe='')}/json")
        return result

    async def read_image_file(self, image: str, path: str, max_bytes: int = 4096) -> str:
        """One small text file of an image, read from a container that is never started."""
        container_id = await self.create_container(
            f"runakode-read-{secrets.token_hex(4)}", _never_started(image)
        )
        try:
            response = await self._http.get(
                f"/containers/{container_id}/archive", params={"path": path}
            )
        except httpx.HTTPError as exc:
            raise SandboxError(f"reading {path} from {image} failed: {exc}") from exc
        finally:
            await self.remove(container_id)
        if response.status_code != 200:
            raise SandboxError(f"{image} has no {path}")
        with tarfile.open(fileobj=io.BytesIO(response.content)) as archive:
            member = archive.next()
            extracted = archive.extractfile(member) if member is not None else None
            if extracted is None:
                raise SandboxError(f"{path} in {image} is not a file")
            return extracted.read(max_bytes).decode("utf-8", errors="replace")

    async def export_image(self, image: str, destination: Path) -> None:
        """Unpack an image's file system into destination (created atomically, root-owned)."""
        container_id = await self.create_container(
            f"runakode-export-{secrets.token_hex(4)}", _never_started(image)
        )
        partial = destination.with_name(f"{destination.name}.partial-{secrets.token_hex(4)}")
        try:
            partial.mkdir(parents=True, mode=0o755)
            tar = await asyncio.create_subprocess_exec(
                "tar",
                "-x",
                "-p",
                "--numeric-owner",
                "-C",
                str(partial),
                stdin=asyncio.subprocess.PIPE,
                # Its complaints about a stream cut short are not the service's log.
                stderr=asyncio.subprocess.DEVNULL,
            )
            assert tar.stdin is not None
            try:
                async with self._http.stream(
                    "GET", f"/containers/{container_id}/export", timeout=300
                ) as response:
                    async for chunk in response.aiter_bytes():
                        tar.stdin.write(chunk)
                        await tar.stdin.drain()
                tar.stdin.close()
                status = await tar.wait()
            except BaseException:
                # Cancelled (the worker is stopping) or cut short: tar goes with it.
                tar.kill()
                await tar.wait()
                raise
            if status != 0:
                raise SandboxError(f"unpacking image {image} failed (tar exited with {status})")
            try:
                partial.rename(destination)
            except OSError as exc:
                # Another worker process of this host unpacked the same image first: its copy
                # serves (the name is the image's id); ours goes with the partial directory.
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
        except OSError as exc:
            raise SandboxError(f"unpacking image {image} failed: {exc}") from exc
        except httpx.HTTPError as exc:
            raise SandboxError(f"exporting image {image} failed: {exc}") from exc
        finally:
            await self.remove(container_id)
            if partial.exists():
                shutil.rmtree(partial, ignore_errors=True)

    async def create_container(self, name: str, config: dict[str, Any]) -> str:
        result = await self._request(
            "POST", "/containers/create", params={"name": name}, body=config
        )
        return str(result["Id"])

    async def start(self, container_id: str) -> None:
        await self._request("POST", f"/containers/{container_id}/start", ok=(204, 304))

    async def kill(self, container_id: str) -> None:
        # 404/409: already gone or not running, which is what we wanted.
        await self._request("POST", f"/containers/{container_id}/kill", ok=(204, 404, 409))

    async def wait(self, container_id: str, timeout_s: float) -> int | None:
        try:
            result = await self._request(
                "POST", f"/containers/{container_id}/wait", timeout_s=timeout_s
            )
        except SandboxError:
            return None
        return int(result.get("StatusCode", -1))

    async def inspect(self, container_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._request("GET", f"/containers/{container_id}/json")
        return result

    async def remove(self, container_id: str) -> None:
        await self._request(
            "DELETE",
            f"/containers/{container_id}",
            params={"force": "1", "v": "1"},
            ok=(204, 404, 409),
        )

    async def list_containers(self, labels: list[str]) -> list[dict[str, Any]]:
        filters = json.dumps({"label": labels})
        result: list[dict[str, Any]] = await self._request(
            "GET", "/containers/json", params={"all": "1", "filters": filters}
        )
        return result

    async def attach(self, container_id: str) -> AttachedStream:
        """Hijack the HTTP connection so stdin and the output stream share one socket."""
        try:
            reader, writer = await asyncio.open_unix_connection(self._socket_path)
        except OSError as exc:
            raise SandboxError(f"docker engine unreachable: {exc}") from exc
        request = (
            f"POST /containers/{container_id}/attach?{ATTACH_QUERY} HTTP/1.1\r\n"
            "Host: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n"
        )
        writer.write(request.encode("ascii"))
        try:
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
        except (OSError, EOFError, asyncio.LimitOverrunError, TimeoutError) as exc:
            writer.close()
            raise SandboxError(f"docker attach failed: {exc!r}") from exc
        status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        if " 101 " not in status_line and " 200 " not in status_line:
            writer.close()
            raise SandboxError(f"docker attach refused: {status_line}")
        return AttachedStream(reader, writer)


async def image_id(socket_path: str, image: str) -> str | None:
    """The image's id (a digest of its content), None when the engine does not answer or has no
    such image."""
    docker = DockerClient(socket_path)
    try:
        return str((await docker.inspect_image(image)).get("Id") or "") or None
    except SandboxError:
        return None
    finally:
        await docker.close()
