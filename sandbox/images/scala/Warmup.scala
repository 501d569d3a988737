// Compiled once when the image is built, so that the compiler's class archive holds the
// classes an ordinary program needs.
object Warmup {
  case class Point(x: Int, y: Int)

  def main(args: Array[String]): Unit = {
    val points = List(Point(1, 2), Point(3, 4)).map(p => p.copy(x = p.x + 1))
    val text = scala.io.StdIn.readLine()
    println(points.mkString(" ") + Option(text).getOrElse("") + s"${args.length}")
  }
}
