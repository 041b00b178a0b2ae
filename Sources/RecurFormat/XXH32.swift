/// XXH32, the checksum of the LZ4 frame format (header, blocks, content),
/// written from the xxHash specification. liblz4 keeps its own copy private.
struct XXH32 {
    private static let p1: UInt32 = 2_654_435_761, p2: UInt32 = 2_246_822_519, p3: UInt32 = 3_266_489_917
    private static let p4: UInt32 = 668_265_263, p5: UInt32 = 374_761_393

    private var v1: UInt32, v2: UInt32, v3: UInt32, v4: UInt32
    private var total = 0
    private var tail: (UInt64, UInt64) = (0, 0)  // up to 15 bytes not yet in a stripe
    private var tailCount = 0
    private let seed: UInt32

    init(seed: UInt32 = 0) {
        self.seed = seed
        v1 = seed &+ XXH32.p1 &+ XXH32.p2
        v2 = seed &+ XXH32.p2
        v3 = seed
        v4 = seed &- XXH32.p1
    }

    @inline(__always)
    private static func round(_ acc: UInt32, _ lane: UInt32) -> UInt32 {
        ((acc &+ lane &* p2) << 13 | (acc &+ lane &* p2) >> 19) &* p1
    }

    @inline(__always)
    private static func lane(_ p: UnsafeRawPointer, _ offset: Int) -> UInt32 {
        UInt32(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// Adds `count` bytes at `data`.
    mutating func update(_ data: UnsafeRawPointer, _ count: Int) {
        total += count
        var p = data, n = count
        if tailCount > 0 {  // complete the pending stripe first
            var pending = tail
            let take = min(16 - tailCount, n)
            withUnsafeMutableBytes(of: &pending) { t in (t.baseAddress! + tailCount).copyMemory(from: p, byteCount: take) }
            tailCount += take
            p += take
            n -= take
            if tailCount == 16 {
                withUnsafeBytes(of: &pending) { t in stripe(t.baseAddress!) }
                tailCount = 0
            }
            tail = pending
        }
        while n >= 16 {
            stripe(p)
            p += 16
            n -= 16
        }
        if n > 0 {
            var pending = tail
            withUnsafeMutableBytes(of: &pending) { t in t.baseAddress!.copyMemory(from: p, byteCount: n) }
            tail = pending
            tailCount = n
        }
    }

    @inline(__always)
    private mutating func stripe(_ p: UnsafeRawPointer) {
        v1 = XXH32.round(v1, XXH32.lane(p, 0))
        v2 = XXH32.round(v2, XXH32.lane(p, 4))
        v3 = XXH32.round(v3, XXH32.lane(p, 8))
        v4 = XXH32.round(v4, XXH32.lane(p, 12))
    }

    func digest() -> UInt32 {
        var h: UInt32
        if total >= 16 {
            h = (v1 << 1 | v1 >> 31) &+ (v2 << 7 | v2 >> 25) &+ (v3 << 12 | v3 >> 20) &+ (v4 << 18 | v4 >> 14)
        } else {
            h = seed &+ XXH32.p5
        }
        h = h &+ UInt32(truncatingIfNeeded: total)
        var rest = tail
        withUnsafeBytes(of: &rest) { t in
            var i = 0
            while i + 4 <= tailCount {
                h = h &+ XXH32.lane(t.baseAddress!, i) &* XXH32.p3
                h = (h << 17 | h >> 15) &* XXH32.p4
                i += 4
            }
            while i < tailCount {
                h = h &+ UInt32(t[i]) &* XXH32.p5
                h = (h << 11 | h >> 21) &* XXH32.p1
                i += 1
            }
        }
        h ^= h >> 15
        h = h &* XXH32.p2
        h ^= h >> 13
        h = h &* XXH32.p3
        h ^= h >> 16
        return h
    }

    static func hash(_ data: UnsafeRawPointer, _ count: Int, seed: UInt32 = 0) -> UInt32 {
        var x = XXH32(seed: seed)
        x.update(data, count)
        return x.digest()
    }
}
