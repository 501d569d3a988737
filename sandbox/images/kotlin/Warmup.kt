// Compiled once when the image is built, so that the compiler's class archive holds the
// classes an ordinary program needs.
data class Point(val x: Int, val y: Int)

fun main() {
    val points = listOf(Point(1, 2), Point(3, 4)).map { it.copy(x = it.x + 1) }
    println(points.joinToString(" ") + (readLine() ?: ""))
}
