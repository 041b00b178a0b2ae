/// Status codes shared by every layer. The numbers are the public contract in
/// include/recur.h (`recur_status`): fixed forever, new codes only appended.
public enum Status: Int32, Sendable {
    case ok = 0
    case invalidArgument = 1
    case sizeMismatch = 2
    case io = 3
    case badFrame = 4
    case badEncoding = 5
    case badModel = 6
    case unsupportedVersion = 7
    case tooLarge = 8
    case outOfMemory = 9
    case badHandle = 10
    case bufferTooSmall = 11
    case unsupported = 12
    case outOfRange = 13
    case badSnapshot = 14
    case wrongModel = 15
    case noMemorySet = 16
}

/// A failure with its status and a detail message naming what was wrong.
public struct RecurError: Error, Sendable {
    public var status: Status
    public var message: String

    public init(_ status: Status, _ message: String) {
        self.status = status
        self.message = message
    }
}
