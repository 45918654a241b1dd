import ReconcilerCommands

@main
enum ReconcilerMain {
    static func main() async {
        await Reconciler.main()
    }
}
