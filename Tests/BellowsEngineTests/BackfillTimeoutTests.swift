import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// A backfill batch that runs into `statement_timeout_ms` is halved and run again, down to one
/// row; one row over the timeout fails saying which setting to raise, with nothing of the
/// batch committed (hostile finding 14, 2026-12-02b: heavy rows failed the first 1,000-row
/// batch at once, its `retries` unused). Each row here costs 40 ms (or 400 ms) of `up`.
@Suite(needsDatabase)
struct BackfillTimeoutTests {
    static func setUp(_ fixture: EngineFixture, rows: Int, secondsPerRow: Double, timeoutMilliseconds: Int, batchSize: Int = 1000) throws {
        try fixture.exec("""
            CREATE FUNCTION slow_copy(t text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
            BEGIN PERFORM pg_sleep(\(secondsPerRow)); RETURN t; END $$;
            CREATE TABLE docs (id bigint PRIMARY KEY, body text);
            INSERT INTO docs SELECT g, 'body ' || g FROM generate_series(1, \(rows)) AS g;
            """)
        try fixture.writePlan("001_docs", """
            table: docs
            changes:
              - alter: body
                rename_to: content
                up: "slow_copy(body)"
                down: "content"
            backfill:
              batch_size: \(batchSize)
              statement_timeout_ms: \(timeoutMilliseconds)
              pause_ms: 0
              pacing: full
            """)
    }

    @Test func aBatchOverTheStatementTimeoutIsHalvedUntilItFits() throws {
        let fixture = try EngineFixture("bftimeout")
        defer { fixture.close() }
        try Self.setUp(fixture, rows: 40, secondsPerRow: 0.04, timeoutMilliseconds: 500)
        try fixture.run(.expand, "001_docs")
        let messages = Shared<[String]>([])
        _ = try fixture.engine(reporter: { event in
            if case .info(let text) = event { messages.update { $0.append(text) } }
        }).run(.backfill, plan: "001_docs")
        #expect(try fixture.state("001_docs")?.phase == .backfilled)
        #expect(try fixture.int("SELECT count(*) FROM docs WHERE content IS DISTINCT FROM body") == 0)
        let halvings = messages.current.filter { $0.contains("statement_timeout_ms") }
        // The fixture's batches start at its own size; each halving says from what to what.
        #expect(!halvings.isEmpty && halvings.allSatisfy { $0.contains("rows took longer than statement_timeout_ms (500 ms); trying ") }, "\(messages.current)")
    }

    @Test func oneRowOverTheStatementTimeoutFailsSayingWhatToRaise() throws {
        let fixture = try EngineFixture("bftimeout1")
        defer { fixture.close() }
        try Self.setUp(fixture, rows: 3, secondsPerRow: 0.4, timeoutMilliseconds: 200, batchSize: 8)
        try fixture.run(.expand, "001_docs")
        let before = try fixture.state("001_docs")
        do {
            try fixture.run(.backfill, "001_docs")
            Issue.record("the backfill ran")
        } catch BellowsError.failed(_, _, let purpose, let error) {
            #expect(error.sqlState == .queryCanceled, "\(error)")
            #expect(purpose.contains("a batch of 1 row took longer than statement_timeout_ms (200 ms)"), "\(purpose)")
            #expect(purpose.contains("raise backfill.statement_timeout_ms"), "\(purpose)")
        }
        let after = try fixture.state("001_docs")
        #expect(after?.phase == .expanded && after?.backfillCursor == nil && after?.backfillRows == 0)
        #expect(after?.phase == before?.phase)
        #expect(try fixture.int("SELECT count(*) FROM docs WHERE content IS NOT NULL") == 0)
    }
}
