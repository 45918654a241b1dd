import DesiredState

/// A plan as a merge-request comment: the summary, what the policy denies, what is frozen,
/// the held items and why, then a `<details>` section per region with its steps and the
/// resource-level change sets. Kept under GitHub's comment limit: the first region that does not
/// fit is cut at a line (and closed), what follows it is left out, and a line says so.
public enum PlanMarkdown {
    /// GitHub's limit on a comment body, in characters.
    public static let commentLimit = 65_535

    public static func render(_ plan: Plan, source: String, limit: Int = commentLimit) -> String {
        var head = [
            "### reconciler plan for \(plan.project)",
            "",
            "From \(inline(source)) · account `\(plan.account)` · digest `\(plan.digest.prefix(16))`",
            "",
            "**\(PlanText.summary(plan).split(separator: "\n").first.map(String.init) ?? "")**",
        ]
        if let violations = plan.violations, !violations.isEmpty {
            head += ["", "> [!CAUTION]", "> **Denied by \(PolicyRule.file)**: `apply` changes nothing until the plan keeps the rules."]
            head += violations.map { "> - \(cell($0.line))" }
        }
        if let frozen = plan.frozen, !frozen.isEmpty {
            head += ["", "> [!WARNING]", "> **Frozen now**"] + frozen.map { "> - \(cell($0))" }
        }
        var blocks: [Block] = []
        let held = plan.heldSteps
        if !held.isEmpty {
            blocks.append(Block(["", "#### Held for approval (\(held.count))", "", "| Region | Held | For | Why |", "| --- | --- | --- | --- |"]))
            blocks += held.map { step in
                let why = step.preview.map { $0.risks.isEmpty ? step.detail : $0.risks.joined(separator: "; ") } ?? step.detail
                return Block(["| \(step.region) | \(cell(step.subject)) | \(step.gate ?? "") | \(cell(why)) |"])
            }
        }
        blocks += plan.regions.map(region)
        var tail: [String] = []
        for line in plan.leftOut ?? [] { tail.append("Left out: \(cell(line))") }
        if let dns = plan.dns, !dns.isEmpty {
            tail += ["", "<details><summary>DNS records of the custom domains (\(dns.count))</summary>", "", "```"] + PlanText.dnsLines(dns).map(fenced)
            tail += ["```", "", "</details>"]
        }
        return fit(head: head.joined(separator: "\n"), blocks: blocks, tail: tail.joined(separator: "\n"), limit: limit)
    }

    /// Lines of the comment kept or left out together; one with `closing` (a region's steps)
    /// may be cut at any line after its first `opening` lines, and is then closed.
    struct Block {
        var lines: [String]
        var opening = 0
        var closing: [String] = []
        init(_ lines: [String], opening: Int = 0, closing: [String] = []) {
            self.lines = lines
            self.opening = opening
            self.closing = closing
        }
        var text: String { (lines + closing).joined(separator: "\n") }
    }

    /// One region: its steps in a diff block (`+` green, `-` red), inside `<details>`.
    static func region(_ region: RegionPlan) -> Block {
        guard !region.steps.isEmpty else { return Block(["", "**\(region.region)**: no changes (\(region.unchanged) checked)"]) }
        let held = region.steps.filter { $0.gate != nil }.count
        let summary =
            "<b>\(region.region)</b>: \(region.steps.count) step\(region.steps.count == 1 ? "" : "s")"
            + (held == 0 ? "" : ", \(held) held") + ", \(region.unchanged) unchanged"
        let opening = ["", "<details><summary>\(summary)</summary>", "", "```diff"]
        return Block(opening + PlanText.stepLines(region, colour: false).map(fenced), opening: opening.count, closing: ["```", "", "</details>"])
    }

    /// The head, as many blocks as fit, and the tail. The first block that does not fit whole is
    /// cut where it may be, or left out; every one after it is left out, and a line says so.
    static func fit(head: String, blocks: [Block], tail: String, limit: Int) -> String {
        func size(_ text: String) -> Int { text.utf16.count }
        var body = head
        let closing = tail.isEmpty ? "" : "\n" + tail
        for (index, block) in blocks.enumerated() {
            let whole = truncation(blocks.count - index - 1, cut: false)
            if size(body) + size("\n" + block.text) + size(closing) + size(whole) <= limit {
                body += "\n" + block.text
                continue
            }
            let note = truncation(blocks.count - index - 1, cut: true)
            var room = limit - size(body) - size(closing) - size(note) - size("\n" + block.closing.joined(separator: "\n")) - 1
            var kept: [String] = []
            for line in block.lines {
                room -= size(line) + 1
                if room < 0 { break }
                kept.append(line)
            }
            if block.opening > 0 && kept.count > block.opening {
                return body + "\n" + (kept + block.closing).joined(separator: "\n") + closing + note
            }
            let left = truncation(blocks.count - index, cut: false)
            if size(body) + size(closing) + size(left) <= limit { return body + closing + left }
            return String(decoding: Array(body.utf16.prefix(max(0, limit - size(left)))), as: UTF16.self) + left
        }
        return body + closing + "\n"
    }

    /// The line that says what was left out (nothing when nothing was).
    static func truncation(_ omitted: Int, cut: Bool) -> String {
        guard omitted > 0 || cut else { return "\n" }
        let parts = (cut ? ["the last section is cut short"] : []) + (omitted > 0 ? ["\(omitted) more section\(omitted == 1 ? " is" : "s are") left out"] : [])
        return "\n\n**Truncated**: " + parts.joined(separator: " and ") + " to stay under GitHub's \(commentLimit)-character comment limit; see the full plan "
            + "with `reconciler plan` (or in the job's log).\n"
    }

    /// Text for a table cell or a list item: no line breaks, no column bars, no HTML.
    static func cell(_ text: String) -> String {
        text.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "<", with: "&lt;")
    }

    static func inline(_ text: String) -> String { "`\(text.replacingOccurrences(of: "`", with: "'"))`" }

    /// A line inside a code fence cannot close it.
    static func fenced(_ line: String) -> String { line.replacingOccurrences(of: "```", with: "'''") }
}
