/// Limits applied to untrusted files before anything is allocated from them.
/// The defaults are the public contract (`recur_load_options_default` in
/// include/recur.h); a host may lower or raise each one per load.
public struct LoadLimits: Sendable {
    /// Largest accepted file (compressed bytes).
    public var maxFileBytes = 1 << 30
    /// Largest accepted decompressed content.
    public var maxContentBytes = 1 << 30
    /// Largest model: its one block of packed weights, padding included.
    public var maxModelBytes = 4 << 30
    /// Largest stream of the model (state and scratch).
    public var maxStreamBytes = 256 << 20
    /// Most layers.
    public var maxLayers = 4096
    /// Largest input, hidden, output, projection or vocabulary size.
    public var maxDimension = 1 << 24
    /// Most metadata entries.
    public var maxMetadataEntries = 4096
    /// Most bytes of metadata keys and values and the producer string together.
    public var maxMetadataBytes = 1 << 20
    /// Longest layer name.
    public var maxNameBytes = 4096
    /// How bfloat16 and int8 weight matrices are kept (recur_weight_storage).
    public var weightStorage = WeightPolicy.auto
    /// The CPU's largest cache, for RECUR_WEIGHTS_AUTO (not a limit: the C
    /// ABI sets it from cpuid; this default when the CPU does not say).
    public var cacheBytes = 8 << 20

    public init() {}

    public static let defaults = LoadLimits()
}

/// recur_weight_storage: where a model keeps reduced weights narrow.
public enum WeightPolicy: Int, Sendable {
    /// Narrow where that is faster (WeightStorage.choose).
    case auto = 0
    /// Narrow wherever a kernel exists.
    case narrow = 1
    /// Widened to float32 at load.
    case float32 = 2
}
