// Compiled once at image build time so that the classes javac needs for common language
// features land in its CDS archive (see the Dockerfile); never run.
import java.io.*;
import java.util.*;
import java.util.function.*;
import java.util.stream.*;

public class CdsTraining {
    record Point(int x, int y) {}

    sealed interface Shape permits Circle, Square {}
    static final class Circle implements Shape { double r = 1; }
    static final class Square implements Shape { double s = 2; }

    enum Color { RED, GREEN }

    static <T extends Comparable<T>> T max(List<T> items) {
        return items.stream().max(Comparator.naturalOrder()).orElseThrow();
    }

    public static void main(String[] args) throws IOException {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        Scanner scanner = new Scanner(System.in);
        var map = new HashMap<String, List<Integer>>();
        map.computeIfAbsent("a", k -> new ArrayList<>()).add(1);
        int[] numbers = IntStream.rangeClosed(1, 10).filter(i -> i % 2 == 0).toArray();
        Arrays.sort(numbers);
        String joined = Arrays.stream(numbers).mapToObj(Integer::toString).collect(Collectors.joining(","));
        Function<Integer, Integer> twice = n -> n * 2;
        BiFunction<Integer, Integer, Integer> add = Integer::sum;
        Shape shape = new Circle();
        double area = shape instanceof Circle c ? c.r * c.r * Math.PI : ((Square) shape).s;
        String text = """
            text block %s
            """.formatted(joined);
        switch (Color.RED) {
            case RED -> System.out.println("red");
            default -> System.out.println("other");
        }
        Runnable r = new Runnable() {
            @Override public void run() { System.out.println(text + area + twice.apply(add.apply(1, 2))); }
        };
        r.run();
        try {
            long big = Long.parseLong(in.readLine()) + scanner.nextLong();
            System.out.printf("%d %s%n", big, max(List.of(new Point(1, 2).toString(), "b")));
        } catch (NumberFormatException | NullPointerException e) {
            throw new IllegalStateException(e);
        } finally {
            StringBuilder sb = new StringBuilder();
            for (char ch : "done".toCharArray()) sb.append(Character.toUpperCase(ch));
            System.err.println(sb);
        }
    }
}
