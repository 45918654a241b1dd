import AWSClient
import EmulatorHarness
import Foundation
import Testing

/// S3's conditional writes on MiniStack (signatures and IAM checked): a key taken only when free
/// (`If-None-Match: *`), an object replaced only while it has the ETag read (`If-Match`), and
/// writers racing on one object through read, change, conditional write and retry. What a
/// state store shared by several machines stands on.
@Suite(.serialized) struct S3ConditionalWriteTests {
    @Test func aConditionThatNoLongerHoldsIsRefusedAndRacingWritersLoseNothing() async throws {
        let emulator = try await MiniStack.start()
        defer { emulator.stop() }
        let s3 = S3Client(emulator.client(), region: "eu-west-1")
        let bucket = "reconciler-state-\(emulator.account)"
        try await s3.createBucket(bucket)
        #expect(try await s3.getObject(bucket, key: "state/approvals.json") == nil)

        // Created once; the second creator is refused.
        let first = try #require(try await s3.putObject(bucket, key: "state/approvals.json", body: Array("1".utf8), condition: .absent))
        await #expect { try await s3.putObject(bucket, key: "state/approvals.json", body: Array("2".utf8), condition: .absent) } throws: {
            ($0 as? AWSError)?.isPreconditionFailed == true
        }
        // Replaced while it has the ETag read; a writer holding the old ETag is refused.
        let read = try #require(try await s3.getObject(bucket, key: "state/approvals.json"))
        #expect(String(decoding: read.body, as: UTF8.self) == "1" && read.etag == first)
        let second = try await s3.putObject(bucket, key: "state/approvals.json", body: Array("3".utf8), condition: .matching(etag: first))
        #expect(second != nil && second != first)
        await #expect { try await s3.putObject(bucket, key: "state/approvals.json", body: Array("4".utf8), condition: .matching(etag: first)) } throws: {
            ($0 as? AWSError)?.isPreconditionFailed == true
        }
        #expect(try await s3.getObject(bucket, key: "state/approvals.json").map { String(decoding: $0.body, as: UTF8.self) } == "3")

        // Ten writers at once, all holding the same ETag: exactly one write happens. (Each writes
        // other bytes: an ETag is the content's digest, so rewriting the same bytes keeps it, and a
        // store built on this must make every write's content differ, e.g. with a revision.)
        let counter = try #require(try await s3.putObject(bucket, key: "state/counter", body: Array("0".utf8), condition: .absent))
        let won = try await withThrowingTaskGroup(of: Bool.self) { group in
            for writer in 0..<10 {
                group.addTask {
                    do {
                        _ = try await s3.putObject(bucket, key: "state/counter", body: Array("\(100 + writer)".utf8), condition: .matching(etag: counter))
                        return true
                    } catch let error as AWSError where error.isPreconditionFailed {
                        return false
                    }
                }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(won == 1)
        let start = try #require(try await s3.getObject(bucket, key: "state/counter").flatMap { Int(String(decoding: $0.body, as: UTF8.self)) })

        // Ten writers add one each to the counter: read, add, write on that ETag, and on a refusal read again.
        let refusals = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<10 {
                group.addTask {
                    for refused in 0..<50 {
                        let current = try #require(try await s3.getObject(bucket, key: "state/counter"))
                        let next = Array(String((Int(String(decoding: current.body, as: UTF8.self)) ?? 0) + 1).utf8)
                        do {
                            _ = try await s3.putObject(bucket, key: "state/counter", body: next, condition: .matching(etag: current.etag ?? ""))
                            return refused
                        } catch let error as AWSError where error.isPreconditionFailed {
                            continue
                        }
                    }
                    Issue.record("a writer was refused 50 times")
                    return 50
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(
            try await s3.getObject(bucket, key: "state/counter").map { String(decoding: $0.body, as: UTF8.self) } == "\(start + 10)", "\(refusals) refusals")
    }
}
