#if canImport(Glibc)
    import Glibc
#endif

/// How the daemon keeps its resident memory to what it uses (glibc's allocator).
///
/// glibc raises its mmap threshold each time a large mmapped block is freed (up to 32 MiB), so
/// after the first deployment (layer archives of several MiB, request bodies) later large
/// blocks come from the heap arenas, which keep their pages; and each thread may get an arena of
/// its own. A fixed threshold keeps large blocks mmapped (returned when freed), two arenas bound
/// the spread, and a trim after each cycle returns the arenas' free pages.
///
/// malloc.h is not in Swift's Glibc module, so mallopt and malloc_trim are looked up at run
/// time; with another C library, nothing is done.
enum ProcessMemory {
    static func configureForDaemon() {
        guard let mallopt = symbol("mallopt", as: (@convention(c) (Int32, Int32) -> Int32).self) else { return }
        _ = mallopt(-3 /* M_MMAP_THRESHOLD */, 256 * 1024)
        _ = mallopt(-8 /* M_ARENA_MAX */, 2)
    }

    /// Returns the allocator's free pages to the system (milliseconds; once per cycle).
    static func release() {
        _ = trim?(0)
    }

    private static let trim = symbol("malloc_trim", as: (@convention(c) (Int) -> Int32).self)

    private static func symbol<F>(_ name: String, as type: F.Type) -> F? {
        #if canImport(Glibc)
            guard let address = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return nil }
            return unsafeBitCast(address, to: type)
        #else
            return nil
        #endif
    }
}
