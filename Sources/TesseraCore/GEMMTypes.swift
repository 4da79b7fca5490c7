/// Whether a GEMM operand is used as stored or transposed.
public enum Transpose: Sendable, Equatable, CaseIterable {
    /// op(X) = X.
    case none
    /// op(X) = Xᵀ.
    case transpose
}

/// Where a GEMM epilogue's bias vector runs.
public enum BiasAxis: Sendable, Equatable {
    /// No bias.
    case none
    /// `bias[i]` is added to every element of row i (length M): per output channel when C is channels × pixels.
    case row
    /// `bias[j]` is added to every element of column j (length N): per output feature when C is batch × features.
    case column
}
