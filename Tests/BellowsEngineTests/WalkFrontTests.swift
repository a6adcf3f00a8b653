@testable import BellowsEngine
import Testing

/// The cursor a backfill with helper sessions may save, decided without a database: never past
/// a range that has not committed, whatever order the ranges commit in.
struct WalkFrontTests {
    @Test func oneWalkerSavesEachBatchsEnd() {
        var front = WalkFront(cursor: nil)
        #expect(front.cursor == nil)
        let a = front.take(upTo: ["100"])
        #expect(front.cursor(afterBatchTo: ["100"], in: a) == ["100"])
        front.walked(a, to: ["100"])
        #expect(front.cursor == ["100"])
        #expect(front.open.isEmpty)
    }

    @Test func aRangeCommittedAheadOfAnOpenOneMovesNoCursor() {
        var front = WalkFront(cursor: ["0"])
        let helper = front.take(upTo: ["100"])
        let own = front.take(upTo: ["200"])
        // The backfill's own batch commits first: the helper's range before it is open.
        #expect(front.cursor(afterBatchTo: ["200"], in: own) == ["0"])
        front.walked(own, to: ["200"])
        #expect(front.cursor == ["0"])
        // The helper's commit closes the gap: everything up to 200 is done.
        front.walked(helper, to: ["100"])
        #expect(front.cursor == ["200"])
        #expect(front.next == ["200"])
    }

    @Test func aRangeGivenBackIsWalkedInPartsAndHoldsTheCursorUntilItsEnd() {
        var front = WalkFront(cursor: nil)
        let failed = front.take(upTo: ["100"])
        let later = front.take(upTo: ["200"])
        front.walked(later, to: ["200"])
        #expect(front.cursor == nil)
        // Walked again in two parts by the backfill's own session.
        #expect(front.cursor(afterBatchTo: ["40"], in: failed) == ["40"])
        front.walked(failed, to: ["40"])
        #expect(front.cursor == ["40"])
        #expect(front.range(failed)?.start == ["40"])
        front.walked(failed, to: ["100"])
        #expect(front.range(failed) == nil)
        #expect(front.cursor == ["200"])
    }

    @Test func theCursorNeverLeadsWhateverTheOrder() {
        // Ten ranges committed in every rotation of their order: after each commit the cursor
        // is the end of the longest committed prefix.
        for rotation in 0..<10 {
            var front = WalkFront(cursor: ["0"])
            let ids = (1...10).map { front.take(upTo: ["\($0 * 10)"]) }
            var done = Set<Int>()
            for step in 0..<10 {
                let index = (step + rotation) % 10
                front.walked(ids[index], to: ["\((index + 1) * 10)"])
                done.insert(index)
                let prefix = (0..<10).prefix { done.contains($0) }.count
                #expect(front.cursor == ["\(prefix * 10)"])
            }
        }
    }
}
