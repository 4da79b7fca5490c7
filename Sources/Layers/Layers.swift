@_exported import TesseraCore

/// Layers, networks and training are built here on top of `Kernels` (issue: training).
public enum Layers {}
