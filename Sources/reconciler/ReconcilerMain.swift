import ReconcilerCommands

#if canImport(Glibc)
    @preconcurrency import Glibc
#endif

@main
enum ReconcilerMain {
    static func main() async {
        // Progress lines must reach a pipe (a CI log, `| tee`) as they happen, not at exit:
        // standard output is line-buffered whatever it is connected to.
        setvbuf(stdout, nil, _IOLBF, 0)
        await Reconciler.main()
    }
}
