import DesiredState
import DesiredStateSources
import Foundation

/// The bundled default desired state, read from the repository, with helpers to
/// break it in precise ways.
enum Fixture {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let desiredState = root.appendingPathComponent("desired-state")

    static let files: SourceFiles = try! DirectorySource.read(desiredState.path)

    /// One textual edit of one file.
    struct Edit: Sendable, CustomStringConvertible {
        var file: String
        var old: String
        var new: String
        var description: String { "\(file): '\(old)' → '\(new)'" }
    }

    /// Applies edits; each `old` must occur in its file (the first occurrence is replaced).
    static func applying(_ edits: [Edit], to base: SourceFiles = files) -> SourceFiles {
        var result = base
        for edit in edits {
            var text = result.text(edit.file) ?? ""
            if edit.old.isEmpty {
                text += edit.new
            } else {
                guard let range = text.range(of: edit.old) else { fatalError("fixture edit does not apply: \(edit)") }
                text.replaceSubrange(range, with: edit.new)
            }
            result.files[edit.file] = Array(text.utf8)
        }
        return result
    }

    /// Line and column (1-based) of `needle` inside the text that `edit` inserted.
    static func location(of needle: String, in edit: Edit, files: SourceFiles) -> FileLocation {
        let text = files.text(edit.file)!
        let start = edit.old.isEmpty ? text.range(of: edit.new, options: .backwards)!.lowerBound : text.range(of: edit.new)!.lowerBound
        let inserted = text[start...]
        let hit = inserted.range(of: needle)!.lowerBound
        let before = text[..<hit]
        let line = before.filter { $0 == "\n" }.count + 1
        let column = before.count - (before.lastIndex(of: "\n").map { before.distance(from: before.startIndex, to: $0) + 1 } ?? 0) + 1
        return FileLocation(file: edit.file, line: line, column: column)
    }
}
