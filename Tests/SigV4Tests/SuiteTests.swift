import Foundation
import SigV4
import Testing

/// AWS's SigV4 test suite (awslabs/aws-c-auth, Apache-2.0; its LICENSE and NOTICE beside
/// it), kept in Tests/SigV4Tests/Vectors/v4 (or $SIGV4_TESTDATA). Each case is checked stage by stage.
enum Suite {
    static let directory: URL = {
        if let path = ProcessInfo.processInfo.environment["SIGV4_TESTDATA"] { return URL(fileURLWithPath: path) }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Vectors/v4")
    }()

    static let names: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).sorted()

    struct Case {
        var signer: SigV4
        var request: SigningRequest
        var date: Double
        var expires: Int
        func expected(_ file: String) throws -> String {
            try String(contentsOf: directory.appendingPathComponent("\(name)/\(file)"), encoding: .utf8)
        }
        var name: String
    }

    static func load(_ name: String) throws -> Case {
        let folder = directory.appendingPathComponent(name)
        let context = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("context.json"))) as! [String: Any]
        let credentials = context["credentials"] as! [String: Any]
        let signer = SigV4(
            credentials: Credentials(
                accessKeyID: credentials["access_key_id"] as! String,
                secretAccessKey: credentials["secret_access_key"] as! String,
                sessionToken: credentials["token"] as? String),
            region: context["region"] as! String, service: context["service"] as! String,
            normalizePath: context["normalize"] as? Bool ?? true,
            signPayloadHeader: context["sign_body"] as? Bool ?? false,
            omitSessionTokenFromSignature: context["omit_session_token"] as? Bool ?? false)
        let formatter = ISO8601DateFormatter()
        let date = formatter.date(from: context["timestamp"] as! String)!.timeIntervalSince1970

        // request.txt: request line, headers (continuation lines start with white space), blank line, body.
        let raw = try String(contentsOf: folder.appendingPathComponent("request.txt"), encoding: .utf8)
        let (head, body): (Substring, Substring) = {
            if let blank = raw.range(of: "\n\n") { return (raw[..<blank.lowerBound], raw[blank.upperBound...]) }
            return (Substring(raw), "")
        }()
        var lines = head.split(separator: "\n", omittingEmptySubsequences: false)
        let requestLine = lines.removeFirst().split(separator: " ")
        let target = requestLine[1..<(requestLine.count - 1)].joined(separator: " ")
        let (path, query) = target.firstIndex(of: "?").map { (String(target[..<$0]), String(target[target.index(after: $0)...])) } ?? (target, "")
        var headers: [SigningRequest.Header] = []
        for line in lines where !line.isEmpty {
            if line.first == " " || line.first == "\t" {
                headers[headers.count - 1].value += "\n" + line
            } else {
                let colon = line.firstIndex(of: ":")!
                headers.append(.init(String(line[..<colon]), String(line[line.index(after: colon)...])))
            }
        }
        return Case(
            signer: signer, request: SigningRequest(method: String(requestLine[0]), path: path, query: query, headers: headers, body: Array(body.utf8)),
            date: date, expires: context["expiration_in_seconds"] as? Int ?? 3600, name: name)
    }
}

@Suite struct SigV4SuiteTests {
    @Test func theWholeSuiteIsPresent() {
        #expect(Suite.names.count == 38, "test data missing at \(Suite.directory.path)")
    }

    @Test(arguments: Suite.names)
    func headerSigning(_ name: String) throws {
        let test = try Suite.load(name)
        let result = test.signer.sign(test.request, date: test.date)
        #expect(result.canonicalRequest == (try test.expected("header-canonical-request.txt")), "canonical request")
        #expect(result.stringToSign == (try test.expected("header-string-to-sign.txt")), "string to sign")
        #expect(result.signature == (try test.expected("header-signature.txt")).trimmingCharacters(in: .whitespacesAndNewlines), "signature")
        let authorization = try #require(result.addedHeaders.first { $0.name == "Authorization" }?.value)
        #expect((try test.expected("header-signed-request.txt")).contains("Authorization:" + authorization), "signed request")
    }

    @Test(arguments: Suite.names)
    func querySigning(_ name: String) throws {
        let test = try Suite.load(name)
        let result = test.signer.presign(test.request, date: test.date, expires: test.expires)
        #expect(result.canonicalRequest == (try test.expected("query-canonical-request.txt")), "canonical request")
        #expect(result.stringToSign == (try test.expected("query-string-to-sign.txt")), "string to sign")
        #expect(result.signature == (try test.expected("query-signature.txt")).trimmingCharacters(in: .whitespacesAndNewlines), "signature")
        #expect(result.signedQuery.hasSuffix("X-Amz-Signature=" + result.signature))
    }
}

@Suite struct SigV4UnitTests {
    @Test func timestampsAreUTC() {
        #expect(SigV4.timestamps(1_440_938_160) == ("20150830T123600Z", "20150830"))
        #expect(SigV4.timestamps(0) == ("19700101T000000Z", "19700101"))
        #expect(SigV4.timestamps(951_782_400) == ("20000229T000000Z", "20000229"))
        #expect(SigV4.timestamps(4_102_444_799) == ("20991231T235959Z", "20991231"))
    }

    @Test func credentialsNeverPrintTheirSecrets() {
        let credentials = Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "very-secret", sessionToken: "token-secret")
        for text in ["\(credentials)", String(reflecting: credentials), "\([credentials])"] {
            #expect(!text.contains("very-secret") && !text.contains("token-secret"), "\(text)")
            #expect(text.contains("AKIDEXAMPLE"))
        }
    }

    @Test func s3SigningSendsThePayloadHashAndEncodesOnce() {
        let signer = SigV4(
            credentials: Credentials(accessKeyID: "AKID", secretAccessKey: "secret"), region: "eu-west-1", service: "s3",
            doubleEncodePath: false, normalizePath: false, signPayloadHeader: true)
        let request = SigningRequest(method: "PUT", path: "/bucket/a%20b/../c", headers: [.init("Host", "s3.eu-west-1.amazonaws.com")], body: Array("x".utf8))
        let result = signer.sign(request, date: 0)
        #expect(result.canonicalRequest.split(separator: "\n")[1] == "/bucket/a%20b/../c")
        #expect(result.addedHeaders.contains { $0.name == "X-Amz-Content-Sha256" && $0.value == SigV4.hexSHA256(Array("x".utf8)) })
        #expect(result.canonicalRequest.contains("x-amz-content-sha256:"))
    }
}
