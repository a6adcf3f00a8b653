import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// Writes that bypassed the trigger (it was disabled and enabled again) leave rows whose new
/// columns disagree with `up`: verify refuses, and there was no way forward but rollback
/// (hostile finding 08). `backfill --rescan` recomputes them, then verify passes.
@Suite(needsDatabase)
struct RescanTests {
    @Test func aRescanRecomputesRowsWrittenAroundTheTrigger() throws {
        let fixture = try EngineFixture("rescan")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE doc (id bigint PRIMARY KEY, title text NOT NULL);
            INSERT INTO doc SELECT g, 'T' || g FROM generate_series(1, 700) AS g;
            """)
        let id = "001_doc"
        try fixture.writePlan(id, """
            table: doc
            changes:
              - alter: title
                rename_to: heading
                not_null: true
            """)
        try fixture.forward(id, through: .verify)
        try fixture.exec("""
            ALTER TABLE doc DISABLE TRIGGER "~bellows_sync_\(id)";
            UPDATE doc SET title = 'bypass 20' WHERE id = 20;
            UPDATE doc SET title = 'bypass 640' WHERE id = 640;
            ALTER TABLE doc ENABLE ALWAYS TRIGGER "~bellows_sync_\(id)";
            """)
        let refusal = expectRefusal { try fixture.run(.verify, id) }
        #expect(refusal?.gates == ["mismatch:change_1"], "\(refusal?.text ?? "")")
        #expect(refusal?.failures.first?.remedy?.contains("bellows backfill \(id) --rescan") == true, "\(refusal?.failures.first?.remedy ?? "")")
        #expect(try fixture.state(id)?.phase == .backfilled)

        // A plain backfill has nothing to do; a rescan walks every batch from the first key.
        let plain = try fixture.run(.backfill, id)
        #expect(plain.details["already_done"] == true)
        #expect(try fixture.rows("SELECT heading FROM doc WHERE id IN (20, 640) ORDER BY id") == [["T20"], ["T640"]])
        let rescan = try fixture.run(.backfill, id) { $0.rescan = true }
        #expect(rescan.details["rows_updated_this_run"] == .int(2), "\(rescan.details)")
        #expect(rescan.details["rows_scanned_this_run"] == .int(700), "\(rescan.details)")
        #expect(try fixture.state(id)?.phase == .backfilled)
        try fixture.run(.verify, id)
        try fixture.run(.contract, id)
        #expect(try fixture.rows("SELECT heading FROM doc WHERE id IN (19, 20, 640) ORDER BY id") == [["T19"], ["bypass 20"], ["bypass 640"]])
        #expect(try fixture.events(id).contains { $0.command == "backfill" && $0.details.contains("\"rescan\": true") })
    }

}
