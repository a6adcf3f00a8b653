@testable import BellowsEngine
import BellowsPlan
import Foundation
import Testing

/// The backfill's pace, decided without a database: full speed alone, gentle while other
/// sessions are active, back to full speed after a calm spell.
struct BackfillPacerTests {
    let start = Date(timeIntervalSince1970: 1_000_000)

    @Test func adaptiveStartsFullAndTurnsGentleWhenAnotherSessionIsActive() {
        var pacer = BackfillPacer(settings: BackfillSettings())
        #expect(pacer.watchesSessions)
        #expect(pacer.observe(ServerActivity(activeSessions: 0), at: start) == false)
        #expect(!pacer.isGentle)
        #expect(pacer.targetBatchMilliseconds == 200)
        #expect(pacer.restMilliseconds(afterBatchOf: 150) == 0)

        #expect(pacer.observe(ServerActivity(activeSessions: 3), at: start.addingTimeInterval(1)) == true)
        #expect(pacer.isGentle)
        #expect(pacer.targetBatchMilliseconds == 20)
        #expect(pacer.restMilliseconds(afterBatchOf: 18) == 18)
        #expect(pacer.description == "gentle (20 ms batches, rest 100 %)")
    }

    @Test func staysGentleThroughShortLullsAndReturnsToFullAfterACalmSpell() {
        var pacer = BackfillPacer(settings: BackfillSettings())
        _ = pacer.observe(ServerActivity(activeSessions: 1), at: start)
        #expect(pacer.observe(ServerActivity(activeSessions: 0), at: start.addingTimeInterval(1.5)) == false)
        #expect(pacer.isGentle)
        #expect(pacer.observe(ServerActivity(activeSessions: 0), at: start.addingTimeInterval(BackfillPacer.calmSeconds + 0.1)) == true)
        #expect(!pacer.isGentle)
    }

    @Test func fullIgnoresOtherSessionsAndGentleStaysGentleWhenAlone() {
        var full = BackfillPacer(settings: BackfillSettings(), pacing: .full)
        #expect(!full.watchesSessions)
        #expect(full.observe(ServerActivity(activeSessions: 10), at: start) == false)
        #expect(!full.isGentle)

        var settings = BackfillSettings()
        settings.pacing = .gentle
        settings.gentleRestPercent = 50
        var gentle = BackfillPacer(settings: settings)
        #expect(gentle.isGentle)
        #expect(gentle.watchesSessions)
        #expect(gentle.observe(ServerActivity(activeSessions: 0), at: start.addingTimeInterval(60)) == false)
        #expect(gentle.isGentle)
        #expect(gentle.restMilliseconds(afterBatchOf: 40) == 20)
    }

    @Test func theRestGrowsWhileTheApplicationWaitsBehindTheBackfillAndShrinksWhenItStops() {
        var pacer = BackfillPacer(settings: BackfillSettings())
        _ = pacer.observe(ServerActivity(activeSessions: 4), at: start)
        #expect(pacer.restMilliseconds(afterBatchOf: 20) == 20)

        let queued = ServerActivity(activeSessions: 4, waitingForWALWrite: 3)
        #expect(pacer.observe(queued, at: start.addingTimeInterval(0.1)) == true)
        #expect(pacer.isBackingOff)
        #expect(pacer.restMilliseconds(afterBatchOf: 20) == 60)
        #expect(pacer.description == "gentle (20 ms batches, rest 300 %, backing off)")
        #expect(pacer.observe(queued, at: start.addingTimeInterval(0.2)) == false)
        #expect(pacer.restMilliseconds(afterBatchOf: 20) == 100)
        for step in 3..<10 { _ = pacer.observe(queued, at: start.addingTimeInterval(0.1 * Double(step))) }
        #expect(pacer.extraRestPercent == BackfillPacer.maximumExtraRestPercent)

        // Calm gives the rest back, half of it every two seconds, and the pace says so when done.
        #expect(pacer.observe(ServerActivity(activeSessions: 4), at: start.addingTimeInterval(2.9)) == false)
        #expect(abs(pacer.extraRestPercent - BackfillPacer.maximumExtraRestPercent / 2) < 0.001)
        var changed = false
        for step in 30..<300 where !changed {
            changed = pacer.observe(ServerActivity(activeSessions: 4), at: start.addingTimeInterval(0.1 * Double(step)))
        }
        #expect(changed)
        #expect(!pacer.isBackingOff)
        #expect(pacer.restMilliseconds(afterBatchOf: 20) == 20)
    }

    @Test func onlyAQueueOrAStallOrABlockedSessionIsStrain() {
        #expect(!ServerActivity(activeSessions: 4).isStrained)
        #expect(!ServerActivity(activeSessions: 4, waitingForWALWrite: 1).isStrained)   // one commit waiting for another's flush
        #expect(ServerActivity(activeSessions: 4, waitingForWALWrite: 2).isStrained)
        #expect(ServerActivity(activeSessions: 4, creatingWALSegment: 1).isStrained)
        #expect(ServerActivity(activeSessions: 1, blockedByBackfill: 1).isStrained)
        #expect(ServerActivity(activeSessions: 4, blockedByBackfill: 1, waitingForWALWrite: 2).strainDescription
            == "1 blocked by the backfill's row locks, 2 waiting to write the WAL")
    }

    @Test func fullSpeedForgetsTheBackOff() {
        var pacer = BackfillPacer(settings: BackfillSettings())
        _ = pacer.observe(ServerActivity(activeSessions: 4), at: start)
        _ = pacer.observe(ServerActivity(activeSessions: 4, creatingWALSegment: 1), at: start.addingTimeInterval(0.1))
        #expect(pacer.isBackingOff)
        #expect(pacer.observe(ServerActivity(activeSessions: 0), at: start.addingTimeInterval(BackfillPacer.calmSeconds + 1)) == true)
        #expect(!pacer.isGentle)
        #expect(!pacer.isBackingOff)
        #expect(pacer.restMilliseconds(afterBatchOf: 200) == 0)
    }

    @Test func theExplicitPauseAddsToTheRest() {
        var settings = BackfillSettings()
        settings.pauseMilliseconds = 5
        var pacer = BackfillPacer(settings: settings)
        #expect(pacer.restMilliseconds(afterBatchOf: 100) == 5)
        _ = pacer.observe(ServerActivity(activeSessions: 1), at: start)
        #expect(pacer.restMilliseconds(afterBatchOf: 10) == 15)
        #expect(BackfillPacer(settings: settings, pauseMilliseconds: 0).restMilliseconds(afterBatchOf: 100) == 0)
    }

    @Test func batchesGrowOrShrinkByAtMostTwiceTowardsTheTarget() {
        var pacer = BackfillPacer(settings: BackfillSettings())
        #expect(pacer.batchSize == 1000)
        pacer.batchDone(rows: 1000, milliseconds: 10)   // far too fast
        #expect(pacer.batchSize == 2000)
        pacer.batchDone(rows: 2000, milliseconds: 1000) // far too slow
        #expect(pacer.batchSize == 1000)
        pacer.batchDone(rows: 1000, milliseconds: 160)
        #expect(pacer.batchSize == 1250)
    }

    @Test func aChangeOfPaceResizesAtOnceFromTheMeasuredRate() {
        var pacer = BackfillPacer(settings: BackfillSettings())
        for _ in 0..<10 { pacer.batchDone(rows: pacer.batchSize, milliseconds: 1) }
        #expect(pacer.batchSize == BackfillPacer.maximumBatchSize)
        // 50,000 rows took 250 ms: 200 rows/ms, so a 20 ms batch is 4,000 rows, from the next batch on.
        pacer.batchDone(rows: 50_000, milliseconds: 250)
        _ = pacer.observe(ServerActivity(activeSessions: 2), at: start)
        #expect(pacer.batchSize == 4000)
        // Back to full speed: 200 ms at the last rate (4,000 rows in 10 ms).
        pacer.batchDone(rows: 4000, milliseconds: 10)
        _ = pacer.observe(ServerActivity(activeSessions: 0), at: start.addingTimeInterval(BackfillPacer.calmSeconds + 1))
        #expect(pacer.batchSize == BackfillPacer.maximumBatchSize)
    }

    @Test func aFixedBatchSizeNeverChanges() {
        var pacer = BackfillPacer(settings: BackfillSettings(), fixedBatchSize: 50)
        pacer.batchDone(rows: 50, milliseconds: 1)
        _ = pacer.observe(ServerActivity(activeSessions: 1), at: start)
        pacer.batchDone(rows: 50, milliseconds: 1)
        #expect(pacer.batchSize == 50)
    }

    @Test func batchSizesStayWithinBounds() {
        var pacer = BackfillPacer(settings: BackfillSettings())
        for _ in 0..<20 { pacer.batchDone(rows: pacer.batchSize, milliseconds: 100_000) }
        #expect(pacer.batchSize == BackfillPacer.minimumBatchSize)
    }

    @Test func thePlanSetsThePace() throws {
        let result = PlanLoader.load(file: "plans/001_pace.yaml", source: """
            table: users
            changes:
              - alter: email
                rename_to: email_address
            backfill:
              pacing: gentle
              gentle_batch_ms: 50
              gentle_rest_percent: 300
              vacuum_every_rows: 0
            """)
        let settings = try #require(result.plan).backfill
        #expect(settings.pacing == .gentle)
        #expect(settings.gentleBatchMilliseconds == 50)
        #expect(settings.gentleRestPercent == 300)
        #expect(settings.vacuumEveryRows == 0)
        #expect(BackfillSettings().vacuumEveryRows == nil)
    }
}

extension BackfillPacerTests {
    /// A batch over `statement_timeout_ms` halves, down to one row, and no later batch grows
    /// past the half, however fast it runs (hostile finding 14, 2026-12-02b).
    @Test func aStatementTimeoutHalvesTheBatchAndCapsLaterOnes() {
        var pacer = BackfillPacer(settings: BackfillSettings(), pacing: .full)
        #expect(pacer.batchSize == 1000)
        var halved = pacer.statementTimedOut()
        #expect(halved)
        #expect(pacer.batchSize == 500 && pacer.ceiling == 500)
        pacer.batchDone(rows: 500, milliseconds: 10)
        #expect(pacer.batchSize == 500)
        for expected in [250, 125, 62, 31, 15, 7, 3, 1] {
            halved = pacer.statementTimedOut()
            #expect(halved)
            #expect(pacer.batchSize == expected)
        }
        pacer.batchDone(rows: 1, milliseconds: 1)
        #expect(pacer.batchSize == 1, "below minimumBatchSize once a timeout asked for it")
        halved = pacer.statementTimedOut()
        #expect(!halved)
        var fixed = BackfillPacer(settings: BackfillSettings(), fixedBatchSize: 40)
        halved = fixed.statementTimedOut()
        #expect(halved && fixed.batchSize == 20)
    }
}
