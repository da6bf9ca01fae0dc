import Foundation

/// Messages for people from any error: berth's errors describe themselves; a JSON decoding
/// error is reduced to what and where (`DecodeProblem`); Foundation's errors to their plain
/// reason and path, never an `NSError` dump.
public enum ErrorText {
    public static func describe(_ error: any Error) -> String {
        if error is DecodingError { return DecodeProblem.describe(error) }
        if error is CocoaError || type(of: error) is NSError.Type {
            let ns = error as NSError
            if let path = ns.userInfo[NSFilePathErrorKey] as? String { return "\(path): \(ns.localizedDescription)" }
            return ns.localizedDescription
        }
        return String(describing: error)
    }
}
