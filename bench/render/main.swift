// bench/render: cost of validating and rendering the default desired state and
// synthetic states with 10x and 50x its functions, queues and buckets.
//
//   swift run -c release bench-render [path/to/desired-state]
//
// Each copy of the application goes into feature sets of its own (`copyN` in one
// region, `amsN` in the four AMS regions), so every stack stays within
// CloudFormation's limits, as a real split would. Figures are medians; the last
// columns compare each scale with the 1x baseline measured in the same run.
import DesiredState
import DesiredStateSources
import Foundation
import Rendering

/// The default state plus `scale - 1` copies of its functions, queues and buckets.
func synthetic(_ base: SourceFiles, scale: Int) -> SourceFiles {
    guard scale > 1 else { return base }
    var files = base
    func append(_ file: String, after marker: String, _ text: String) {
        let current = files.text(file)!
        files.files[file] = Array(current.replacingOccurrences(of: marker, with: marker + text).utf8)
    }
    var featureSets = "", functions = "", queues = "", buckets = "", staging = "", prod = "", regional: [String: String] = [:]
    for i in 2...scale {
        featureSets += "  copy\(i):\n    regions: [ap-south-1]\n  ams\(i):\n    regions: [ap-south-1, eu-west-1, us-east-1, us-west-2]\n"
        functions += """
              Processor\(i):
                featureSet: copy\(i)
                code: functions/queue_processor
                memory: 1024
                timeout: 300
                layers: [common, reports]
                buckets: [dzgro-reports-c\(i), dzgro-exports-c\(i)]
                triggers:
                  - queue: AmazonReports\(i)
                  - queue: DzgroReports\(i)
                  - queue: PaymentEvents\(i)
              ReportsTrigger\(i):
                featureSet: copy\(i)
                code: functions/reports_s3_trigger
                timeout: 30
                layers: [common]
                sendsTo: [DzgroReports\(i)]
                triggers:
                  - bucket: dzgro-reports-c\(i)
                    prefix: incoming/
              Webhook\(i):
                featureSet: copy\(i)
                code: functions/razorpay_webhook
                sendsTo: [PaymentEvents\(i)]
              Backend\(i):
                featureSet: copy\(i)
                code: functions/api
                sendsTo: [AmazonReports\(i)]
                buckets: [dzgro-uploads-c\(i), dzgro-invoices-c\(i)]
              Hooks\(i):
                featureSet: copy\(i)
                code: functions/cognito_trigger
              AmsChange\(i):
                featureSet: ams\(i)
                code: functions/ams_change
                timeout: 120
                layers: [common, ams]
                sendsTo: [AmsPerformance\(i)]
                triggers:
                  - queue: AmsChange\(i)
              AmsPerformance\(i):
                featureSet: ams\(i)
                code: functions/ams_performance
                timeout: 300
                layers: [common, ams]
                triggers:
                  - queue: AmsPerformance\(i)

            """
        for q in ["AmazonReports", "DzgroReports", "PaymentEvents"] { queues += "  \(q)\(i):\n    featureSet: copy\(i)\n" }
        for q in ["AmsChange", "AmsPerformance"] { queues += "  \(q)\(i):\n    featureSet: ams\(i)\n" }
        for b in ["dzgro-reports", "dzgro-uploads", "dzgro-invoices", "dzgro-exports"] { buckets += "  \(b)-c\(i):\n    featureSet: copy\(i)\n" }
        for f in ["Processor", "ReportsTrigger", "Webhook", "Backend", "Hooks", "AmsChange", "AmsPerformance"] {
            staging += "    \(f)\(i): 1\n"
            prod += "    \(f)\(i): 1\n"
        }
        for region in ["eu-west-1", "us-east-1", "us-west-2"] {
            regional[region, default: ""] += "    AmsChange\(i): 1\n    AmsPerformance\(i): 1\n"
        }
    }
    append("project.yaml", after: "featureSets:\n", featureSets)
    append("functions.yaml", after: "functions:\n", functions)
    append("queues.yaml", after: "queues:\n", queues)
    append("buckets.yaml", after: "buckets:\n", buckets)
    var releases = files.text("releases.yaml")!
    releases = releases.replacingOccurrences(of: "staging:\n  ap-south-1:\n", with: "staging:\n  ap-south-1:\n" + staging)
    releases = releases.replacingOccurrences(of: "prod:\n  ap-south-1:\n", with: "prod:\n  ap-south-1:\n" + prod)
    for (region, pins) in regional {
        // Both environments: every `  region:\n` header gets the pins.
        releases = releases.replacingOccurrences(of: "  \(region):\n", with: "  \(region):\n" + pins)
    }
    files.files["releases.yaml"] = Array(releases.utf8)
    return files
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

func measure(runs: Int, _ body: () throws -> Void) rethrows -> Double {
    var times: [Double] = []
    for _ in 0..<runs {
        let start = ContinuousClock.now
        try body()
        let elapsed = ContinuousClock.now - start
        times.append(Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
    }
    return median(times)
}

let path = CommandLine.arguments.dropFirst().first ?? "desired-state"
let base = try DirectorySource.read(path)
struct Row { var scale, functions, queues, buckets, stacks, resources, bytes: Int; var validateMs, renderMs: Double }
var rows: [Row] = []
for (scale, runs) in [(1, 15), (10, 5), (50, 3)] {
    let files = synthetic(base, scale: scale)
    let result = DesiredStateLoader.load(files)
    guard let state = result.state, result.diagnostics.isEmpty else {
        print("synthetic state at \(scale)x is invalid:")
        result.diagnostics.prefix(10).forEach { print("  \($0)") }
        exit(1)
    }
    let stacks = Renderer.render(state)
    let limits = StackLimits.check(stacks, state: state)
    guard limits.isEmpty else { print("synthetic state at \(scale)x breaks stack limits: \(limits)"); exit(1) }
    let validate = measure(runs: runs) { _ = DesiredStateLoader.load(files) }
    let render = measure(runs: runs) { _ = StackLimits.check(Renderer.render(state), state: state) }
    rows.append(
        Row(
            scale: scale, functions: state.functions.count, queues: state.queues.count, buckets: state.buckets.count,
            stacks: stacks.count, resources: stacks.map(\.resourceCount).reduce(0, +), bytes: stacks.map(\.bytes).reduce(0, +),
            validateMs: validate, renderMs: render))
}

func pad(_ s: String, _ n: Int) -> String { String(repeating: " ", count: max(0, n - s.count)) + s }
func fixed(_ v: Double, _ digits: Int = 1) -> String {
    let p = pow(10.0, Double(digits)); return String(Double((v * p).rounded()) / p)
}
print("bench/render: validate (load + all rules) and render (all stacks + limit checks), medians")
print(
    ["scale", "functions", "queues", "buckets", "stacks", "resources", "bytes", "validate ms", "render ms", "total ms", "cost ratio", "per-function ratio"]
        .enumerated().map { pad($0.element, [5, 9, 6, 7, 6, 9, 9, 11, 9, 8, 10, 18][$0.offset]) }.joined(separator: "  "))
let baseline = rows[0]
for row in rows {
    let total = row.validateMs + row.renderMs
    let ratio = total / (baseline.validateMs + baseline.renderMs)
    let perFunction = ratio / (Double(row.functions) / Double(baseline.functions))
    print(
        [
            ("\(row.scale)x", 5), (String(row.functions), 9), (String(row.queues), 6), (String(row.buckets), 7), (String(row.stacks), 6),
            (String(row.resources), 9), (String(row.bytes), 9), (fixed(row.validateMs), 11), (fixed(row.renderMs), 9), (fixed(total), 8),
            (fixed(ratio, 2) + "x", 10), (fixed(perFunction, 2), 18),
        ].map { pad($0.0, $0.1) }.joined(separator: "  "))
}
let last = rows[rows.count - 1]
let growth = log((last.validateMs + last.renderMs) / (baseline.validateMs + baseline.renderMs)) / log(Double(last.functions) / Double(baseline.functions))
print("cost grows as size^\(fixed(growth, 2)) from 1x to \(last.scale)x (1.00 = linear)")
