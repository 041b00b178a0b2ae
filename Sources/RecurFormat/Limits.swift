/// Limits applied to untrusted files before anything is allocated from them.
public enum Limits {
    /// Largest accepted file and largest accepted decompressed content (1 GiB).
    public static let maxContentBytes = 1 << 30
    /// Largest accepted vector width (input, hidden or output size).
    public static let maxDimension = 1 << 24
    /// Largest accepted number of layers.
    public static let maxLayers = 4096
}
