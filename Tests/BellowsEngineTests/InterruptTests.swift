import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import Testing

/// Ctrl-C (SIGINT) and SIGTERM stop the backfill after its current batch, save the cursor,
/// say how to resume and exit 4; the same command finishes the job.
@Suite(needsDatabase)
struct InterruptTests {
    @Test(arguments: [SIGINT, SIGTERM])
    func aSignalStopsAfterTheBatchAndSaysHowToResume(signal: Int32) throws {
        let fixture = try EngineFixture("sigint")
        defer { fixture.close() }
        let id = "001_big_rename"
        let resume = BackfillResumeTests()
        try resume.prepare(fixture, id: id)

        let first = try resume.startSlowBackfill(fixture, id: id)
        kill(first.process.processIdentifier, signal)
        let status = first.wait(timeout: 30)
        #expect(status == 4, "\(first.output)")
        #expect(first.output.contains("resume with: bellows backfill \(id)"), "\(first.output)")
        try resume.waitForBellowsToLeave(fixture)

        let saved = try #require(try fixture.state(id))
        #expect(saved.phase == .expanded && saved.backfillCursor != nil)
        // The batch in flight was finished, not cut: filled rows and saved count agree.
        #expect(try fixture.int("SELECT count(*) FROM big WHERE email_address IS NOT NULL") == saved.backfillRows)
        #expect(try fixture.events(id).contains { $0.outcome == "interrupted" })

        let second = try resume.bellows(fixture, ["backfill", id, "--batch-size", "500"], log: "second")
        #expect(second.wait(timeout: 120) == 0, "\(second.output)")
        try resume.expectExactlyOnce(fixture, id: id)
    }
}
