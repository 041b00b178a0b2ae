#if canImport(Glibc)
import Glibc
#endif

/// Where the library's memory for a model and its streams comes from: the
/// host's malloc/free-style hooks (`recur_allocator`), or malloc and free.
/// Every allocation that belongs to a model goes through here, and every
/// failure is a thrown OUT_OF_MEMORY that names what could not be had.
public struct Allocator: Sendable {
    public typealias Allocate = @convention(c) (UnsafeMutableRawPointer?, Int) -> UnsafeMutableRawPointer?
    public typealias Release = @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Void

    public var allocate: Allocate?
    public var release: Release?
    nonisolated(unsafe) public var opaque: UnsafeMutableRawPointer?

    public init(allocate: Allocate?, release: Release?, opaque: UnsafeMutableRawPointer?) {
        self.allocate = allocate
        self.release = release
        self.opaque = opaque
    }

    public static let system = Allocator(allocate: nil, release: nil, opaque: nil)

    /// `bytes` bytes (at least 1), or nil.
    @inline(__always)
    public func raw(_ bytes: Int) -> UnsafeMutableRawPointer? {
        let n = max(bytes, 1)
        if let allocate { return allocate(opaque, n) }
        return malloc(n)
    }

    @inline(__always)
    public func free(raw pointer: UnsafeMutableRawPointer?) {
        guard let pointer else { return }
        if let release { release(opaque, pointer) } else { Glibc.free(pointer) }
    }

    /// `bytes` bytes aligned to `alignment` (a power of two, at most 4096);
    /// the block the hook gave sits just before, its address stored in the 8
    /// bytes below the returned pointer.
    public func aligned(_ bytes: Int, alignment: Int = 64, for what: @autoclosure () -> String) throws(RecurError) -> UnsafeMutableRawPointer {
        let (total, overflow) = bytes.addingReportingOverflow(alignment + 8)
        guard !overflow, let block = raw(total) else {
            throw RecurError(.outOfMemory, "cannot allocate \(bytes) bytes for \(what())")
        }
        let address = (UInt(bitPattern: block) + 8 + UInt(alignment - 1)) & ~UInt(alignment - 1)
        let result = UnsafeMutableRawPointer(bitPattern: address)!
        result.storeBytes(of: block, toByteOffset: -8, as: UnsafeMutableRawPointer.self)
        return result
    }

    public func free(aligned pointer: UnsafeMutableRawPointer?) {
        guard let pointer else { return }
        free(raw: pointer.load(fromByteOffset: -8, as: UnsafeMutableRawPointer.self))
    }
}

/// The allocations of one load: every one goes through the host's
/// allocator, and the decoder's together stay within `decodeLimit` bytes
/// (a budget that never shrinks: protobuf-c's free gives no size).
public struct LoadBudget {
    public let allocator: Allocator
    var decodeLimit = 0
    var decodeUsed = 0
    /// The decoder asked for more than its budget / the allocator said no.
    var overBudget = false
    var outOfMemory = false

    public init(_ allocator: Allocator) { self.allocator = allocator }
}
