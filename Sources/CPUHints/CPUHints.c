// CPUHints is a header-only module (include/CPUHints.h); SwiftPM needs one source file per C target.
