// bench/sigv4: signatures per second, and the cost of one signed request on
// loopback against moto, each beside botocore timed the same way in the same run.
//
//   swift run -c release bench-sigv4
import AWSClient
import EmulatorHarness
import Foundation
import SigV4

func seconds(_ body: () async throws -> Void) async rethrows -> Double {
    let start = ContinuousClock.now
    try await body()
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

func python(_ arguments: [String]) throws -> [String: Double] {
    let process = Process()
    process.executableURL = Moto.root.appendingPathComponent(".venv/bin/python")
    process.arguments = [Moto.root.appendingPathComponent("bench/sigv4/botocore_bench.py").path] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return try JSONSerialization.jsonObject(with: data) as! [String: Double]
}

func fixed(_ v: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", v) }

let count = 20_000
let signer = SigV4(
    credentials: Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
    region: "eu-west-1", service: "lambda")
let request = SigningRequest(
    method: "GET", path: "/2015-03-31/functions/ApiFunction/aliases/prod",
    headers: [.init("Host", "lambda.eu-west-1.amazonaws.com")], body: [])
var sink = 0
let swiftSigning = await seconds {
    for i in 0..<count { sink &+= signer.sign(request, date: 1_700_000_000 + Double(i)).signature.utf8.count }
}
let swiftRate = Double(count) / swiftSigning
let botoRate = try python(["sign", String(count)])["signatures_per_second"]!
print("bench/sigv4 (\(count) signatures each; checksum \(sink % 997))")
print("  signing     reconciler \(fixed(swiftRate, 0))/s   botocore \(fixed(botoRate, 0))/s   ratio \(fixed(swiftRate / botoRate, 2))x")

let moto = try await Moto.start()
defer { moto.stop() }
let sts = STSClient(moto.client(), region: "eu-west-1")
_ = try await sts.getCallerIdentity()  // warm up
let requests = 200
var times: [Double] = []
for _ in 0..<requests { times.append(try await seconds { _ = try await sts.getCallerIdentity() }) }
times.sort()
let swiftMedian = times[requests / 2] * 1000
let botoMedian = try python(["request", moto.endpoint.absoluteString, moto.credentials.accessKeyID, moto.credentials.secretAccessKey, String(requests)])[
    "median_ms"]!
print(
    "  request     reconciler \(fixed(swiftMedian, 2)) ms   botocore \(fixed(botoMedian, 2)) ms   ratio \(fixed(botoMedian / swiftMedian, 2))x (median of "
        + "\(requests) signed STS GetCallerIdentity on loopback; moto verifies each)"
)
