// Handles: what the C API gives out instead of pointers.
//
// A `recur_model *` or `recur_stream *` is not an address. It encodes a slot
// index and a generation: (generation << 32) | (index << 1) | 1. Slots live in
// chunks that are never freed (CRecurSupport), so checking a handle reads only
// registry memory, never the object: a freed, stale or foreign handle is
// refused with BAD_HANDLE whatever happened to the object's memory.
//
// A slot's state word, changed only atomically:
//   bits 63...32  generation: bumped when the slot's object is gone, so every
//                 older handle stops matching
//   bit  31       open: the handle is valid
//   bit  30       the slot holds a stream (else a model)
//   bits 29...0   models only: references (the handle's own, one per live
//                 stream, one per call in progress on the model handle)
//
// A model freed while streams are live loses its handle at once but keeps its
// weights until the last reference goes (sqlite's close_v2 "zombie"), so a
// host may release models and streams in any order. Looking a stream up (the
// step path) is a few loads and no lock; allocating and recycling slots takes
// a lock (load, create, free only).
import CRecurSupport
import RecurCore

#if canImport(Glibc)
import Glibc
#endif

enum HandleKind {
    case model, stream

    var name: String { self == .model ? "recur_model" : "recur_stream" }
}

/// Why a handle was refused.
enum HandleProblem {
    case null, foreign, freed, otherKind
}

enum Registry {
    static let chunkSlots = 1 << Int(RSUPPORT_CHUNK_BITS)
    static let capacity = Int(RSUPPORT_CHUNK_COUNT) << Int(RSUPPORT_CHUNK_BITS)

    static let openBit: UInt64 = 1 << 31
    static let streamBit: UInt64 = 1 << 30
    static let referenceMask: UInt64 = (1 << 30) - 1
    static let lastGeneration: UInt64 = 0xFFFF_FFFF

    // Under the lock: the free list (slot index + 1; 0 = empty) and the next
    // never-used index.
    nonisolated(unsafe) static var freeList: UInt64 = 0
    nonisolated(unsafe) static var unused: Int = 0

    @inline(__always)
    static func slot(_ index: Int) -> UnsafeMutablePointer<rsupport_slot> {
        rsupport_chunk(UInt64(index >> Int(RSUPPORT_CHUNK_BITS)))! + (index & (chunkSlots - 1))
    }

    @inline(__always)
    static func handle(_ index: Int, _ generation: UInt64) -> OpaquePointer {
        OpaquePointer(bitPattern: UInt(generation << 32 | UInt64(index) << 1 | 1))!
    }

    /// The slot a handle names and the generation it expects, or nil when the
    /// bits cannot be a handle of this library.
    @inline(__always)
    static func decode(_ handle: OpaquePointer) -> (UnsafeMutablePointer<rsupport_slot>, UInt64, Int)? {
        let bits = UInt64(UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(handle))))
        let index = Int(truncatingIfNeeded: (bits & 0xFFFF_FFFF) >> 1)
        let generation = bits >> 32
        guard bits & 1 == 1, generation != 0, index < capacity,
              let chunk = rsupport_chunk(UInt64(index >> Int(RSUPPORT_CHUNK_BITS))) else { return nil }
        return (chunk + (index & (chunkSlots - 1)), generation, index)
    }

    // MARK: Slots

    /// Takes a free slot and opens it for `object`; returns the handle.
    static func open(_ object: UnsafeMutableRawPointer, kind: HandleKind, owner: Int = 0) throws(RecurError) -> OpaquePointer {
        rsupport_registry_lock()
        defer { rsupport_registry_unlock() }
        let index: Int
        if freeList != 0 {
            index = Int(freeList - 1)
            freeList = slot(index).pointee.next_free
        } else {
            guard unused < capacity else {
                throw RecurError(.outOfMemory, "\(capacity) handles are live; free some models or streams first")
            }
            let chunk = UInt64(unused >> Int(RSUPPORT_CHUNK_BITS))
            if rsupport_chunk(chunk) == nil {
                let bytes = chunkSlots * MemoryLayout<rsupport_slot>.stride
                guard let slots = calloc(1, bytes) else {
                    throw RecurError(.outOfMemory, "cannot allocate \(bytes) bytes for handles")
                }
                rsupport_publish_chunk(chunk, slots.assumingMemoryBound(to: rsupport_slot.self))
            }
            index = unused
            unused += 1
        }
        let s = slot(index)
        let generation = max(rsupport_load(&s.pointee.state) >> 32, 1)
        s.pointee.object = object
        s.pointee.owner = UInt64(owner)
        s.pointee.next_free = 0
        let references: UInt64 = kind == .model ? 1 : 0
        rsupport_store(&s.pointee.state, generation << 32 | openBit | (kind == .stream ? streamBit : 0) | references)
        return handle(index, generation)
    }

    /// Ends the slot's current generation and recycles it (unless its
    /// generations are used up: then it stays retired, so no old handle can
    /// ever match again).
    static func recycle(_ index: Int) {
        let s = slot(index)
        let generation = rsupport_load(&s.pointee.state) >> 32
        rsupport_registry_lock()
        defer { rsupport_registry_unlock() }
        s.pointee.object = nil
        if generation >= lastGeneration {
            rsupport_store(&s.pointee.state, generation << 32)
            return
        }
        rsupport_store(&s.pointee.state, (generation + 1) << 32)
        s.pointee.next_free = freeList
        freeList = UInt64(index) + 1
    }

    // MARK: Looking up

    /// Why `handle` is not an open handle of `kind` (for the detail message).
    static func problem(_ handle: OpaquePointer?, _ kind: HandleKind) -> HandleProblem? {
        guard let handle else { return .null }
        guard let (s, generation, _) = decode(handle) else { return .foreign }
        let state = rsupport_load(&s.pointee.state)
        guard state >> 32 == generation, state & openBit != 0 else { return .freed }
        guard (state & streamBit != 0) == (kind == .stream) else { return .otherKind }
        return nil
    }

    /// The stream behind an open stream handle. Lock-free: the step path.
    @inline(__always)
    static func stream(_ handle: OpaquePointer?) -> Stream? {
        guard let handle, let (s, generation, _) = decode(handle) else { return nil }
        let state = rsupport_load(&s.pointee.state)
        guard state >> 32 == generation, state & (openBit | streamBit) == openBit | streamBit,
              let object = s.pointee.object else { return nil }
        return Stream(base: object)
    }

    // MARK: Models

    /// Takes a reference to the model behind an open model handle; give it
    /// back with `release`. Nil when the handle is not an open model handle.
    static func retainModel(_ handle: OpaquePointer?) throws(RecurError) -> (Model, Int)? {
        guard let handle, let (s, generation, index) = decode(handle) else { return nil }
        while true {
            let state = rsupport_load(&s.pointee.state)
            guard state >> 32 == generation, state & (openBit | streamBit) == openBit else { return nil }
            guard state & referenceMask < referenceMask else {
                throw RecurError(.tooLarge, "the model has \(referenceMask - 1) live streams, the most one model can serve")
            }
            if rsupport_exchange_if(&s.pointee.state, state, state + 1) != 0 {
                return (Model(base: s.pointee.object!), index)
            }
        }
    }

    /// Gives back a reference; the last one of a freed model frees it.
    static func releaseModel(_ index: Int) {
        let s = slot(index)
        while true {
            let state = rsupport_load(&s.pointee.state)
            let next = state - 1
            if rsupport_exchange_if(&s.pointee.state, state, next) != 0 {
                if next & referenceMask == 0 { destroyModel(index) }
                return
            }
        }
    }

    /// Closes a model handle (a stale, foreign or repeated one is ignored).
    /// Its weights go with the last reference.
    static func closeModel(_ handle: OpaquePointer?) {
        guard let handle, let (s, generation, index) = decode(handle) else { return }
        while true {
            let state = rsupport_load(&s.pointee.state)
            guard state >> 32 == generation, state & (openBit | streamBit) == openBit else { return }
            let next = (state & ~openBit) - 1
            if rsupport_exchange_if(&s.pointee.state, state, next) != 0 {
                if next & referenceMask == 0 { destroyModel(index) }
                return
            }
        }
    }

    private static func destroyModel(_ index: Int) {
        if let object = slot(index).pointee.object { Model(base: object).free() }
        recycle(index)
    }

    // MARK: Streams

    /// Closes a stream handle (a stale, foreign or repeated one is ignored):
    /// releases what the library allocated for it and its model reference.
    static func closeStream(_ handle: OpaquePointer?) {
        guard let handle, let (s, generation, index) = decode(handle) else { return }
        let state = rsupport_load(&s.pointee.state)
        guard state >> 32 == generation, state & (openBit | streamBit) == openBit | streamBit,
              rsupport_exchange_if(&s.pointee.state, state, state & ~openBit) != 0 else { return }
        let owner = Int(s.pointee.owner)
        if let object = s.pointee.object { Stream(base: object).free() }
        recycle(index)
        releaseModel(owner)
    }
}
