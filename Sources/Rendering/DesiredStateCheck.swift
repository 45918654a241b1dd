import DesiredState

/// Loads, validates and renders a desired state in one go, including the limits of the
/// rendered stacks: what every command and the controller start from. Pure.
public enum DesiredStateCheck {
    public struct Result: Sendable {
        /// nil when there are problems.
        public var state: DesiredState?
        public var stacks: [RenderedStack]
        /// Every problem found, with its location.
        public var problems: [Diagnostic]
    }

    public static func check(_ files: SourceFiles) -> Result {
        let loaded = DesiredStateLoader.load(files)
        var problems = loaded.diagnostics
        var stacks: [RenderedStack] = []
        if let state = loaded.state, problems.isEmpty {
            stacks = Renderer.render(state)
            problems += StackLimits.check(stacks, state: state)
        }
        return Result(state: problems.isEmpty ? loaded.state : nil, stacks: stacks, problems: problems)
    }
}
