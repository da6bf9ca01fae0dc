public struct BerthCommand { public static func main() {} }
