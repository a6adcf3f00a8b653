import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import Testing

/// SIGINT (Ctrl-C) and SIGTERM stop the backfill without losing or repeating a row: the batch
/// in flight ends whole or not at all, the cursor is saved, the command says how to resume and
/// exits 4; the same command finishes the job from that cursor.
@Suite(needsDatabase)
struct InterruptTests {
    /// Whether `signal` is still pending for process `pid` (not yet taken by a handler);
    /// false once the process is gone.
    static func isPending(_ signal: Int32, pid: Int32) -> Bool {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return false }
        let bit = UInt64(1) << UInt64(signal - 1)
        return status.split(separator: "\n").contains { line in
            guard line.hasPrefix("SigPnd:") || line.hasPrefix("ShdPnd:"),
                  let mask = UInt64(line.split(separator: "\t").last.map(String.init) ?? "", radix: 16) else { return false }
            return mask & bit != 0
        }
    }

    @Test(arguments: [SIGINT, SIGTERM])
    func aSignalStopsAfterTheBatchAndSaysHowToResume(signal: Int32) throws {
        let fixture = try EngineFixture("sigint")
        defer { fixture.close() }
        let id = "001_big_rename"
        let resume = BackfillResumeTests()
        try resume.prepare(fixture, id: id)

        // The signal arrives while the batch's UPDATE waits for the test's row lock.
        let blocked = try resume.startBlockedBackfill(fixture, id: id)
        let pid = blocked.process.process.processIdentifier
        kill(pid, signal)
        #expect(try eventually(10) { !Self.isPending(signal, pid: pid) }, "the signal was never taken")
        // Only then is the lock released: a backfill that cancels its statement on a signal
        // has stopped inside the batch, one that finishes its batch first stops after it.
        try blocked.release()
        let status = blocked.process.wait(timeout: 30)
        #expect(status == 4, "\(blocked.process.output)")
        #expect(blocked.process.output.contains("resume with: bellows backfill \(id)"), "\(blocked.process.output)")
        try resume.waitForBellowsToLeave(fixture)
        #expect(try fixture.events(id).contains { $0.outcome == "interrupted" })

        // Either the cut batch committed nothing, or it committed whole and no batch after it ran.
        let size = BackfillResumeTests.batchSize
        let batchEnd = (BackfillResumeTests.blockedKey - 1) / size * size + size
        let cursorKey = try resume.expectCutAtCursor(fixture, id: id, below: batchEnd + 1)
        #expect(cursorKey < BackfillResumeTests.blockedKey || cursorKey == batchEnd, "stopped at \(cursorKey)")

        try resume.expectResumeAfter(fixture, id: id, cursorKey: cursorKey)
        try resume.expectExactlyOnce(fixture, id: id)
    }
}
