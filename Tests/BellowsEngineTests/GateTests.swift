import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// Verify refuses data that disagrees with `up` and failing checks; contract refuses a
/// changed plan, a disabled trigger, an unconfirmed gate and a stale verification.
@Suite(needsDatabase)
struct GateTests {
    static let id = "001_rename_email"
    static let trigger = "~bellows_sync_001_rename_email"

    static func setUp(_ fixture: EngineFixture, extra: String = "") throws {
        try fixture.exec("""
            CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL, note text);
            INSERT INTO accounts SELECT g, 'user' || g || '@example.com', NULL FROM generate_series(1, 1000) AS g;
            """)
        try fixture.writePlan(id, """
            table: accounts
            changes:
              - alter: email
                rename_to: email_address
                not_null: true
            \(extra)
            """)
    }

    /// The plan's state and the table's definition, which a refusal must leave as they are.
    func unchanged(_ fixture: EngineFixture, _ body: () throws -> Void, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
        let state = try fixture.state(Self.id)
        let snapshot = try fixture.snapshot("accounts")
        try body()
        #expect(try fixture.state(Self.id) == state, "bellows.plans changed", sourceLocation: sourceLocation)
        let after = try fixture.snapshot("accounts")
        #expect(after == snapshot, "\(snapshot.difference(to: after))", sourceLocation: sourceLocation)
    }

    @Test func verifyFindsRowsTheTriggerMissed() throws {
        let fixture = try EngineFixture("verify")
        defer { fixture.close() }
        try Self.setUp(fixture)
        try fixture.forward(Self.id, through: .backfill)

        // Writes made while the trigger is disabled are not synchronised.
        try fixture.exec("""
            ALTER TABLE accounts DISABLE TRIGGER "\(Self.trigger)";
            UPDATE accounts SET email = 'drifted' || id || '@example.com' WHERE id IN (17, 4, 250);
            """)
        let whileDisabled = expectRefusal { try fixture.run(.verify, Self.id) }
        #expect(whileDisabled?.gates == ["trigger"], "\(whileDisabled?.text ?? "")")
        try fixture.exec("ALTER TABLE accounts ENABLE ALWAYS TRIGGER \"\(Self.trigger)\"")
        // A value corrupted behind the trigger's back (the backfill's bypass).
        try fixture.exec("""
            BEGIN;
            SELECT set_config('bellows.backfill', '\(Self.id)', true);
            UPDATE accounts SET email_address = 'corrupt@example.com' WHERE id = 999;
            COMMIT;
            """)

        let refusal = try #require(expectRefusal { try fixture.run(.verify, Self.id) })
        #expect(refusal.gates == ["mismatch:change_1"], "\(refusal.text)")
        let message = refusal.failures.first?.message ?? ""
        #expect(message.contains("4 row(s) disagree"), "\(message)")
        #expect(message.contains("sample (id): (4), (17), (250), (999)"), "\(message)")
        #expect(try fixture.state(Self.id)?.phase == .backfilled)
        let events = try fixture.events(Self.id)
        #expect(events.last?.outcome == "refused" && events.last?.command == "verify" && events.last?.details.contains("mismatch:change_1") == true)

        // Contract cannot skip verify.
        let contract = expectRefusal { try fixture.run(.contract, Self.id) }
        #expect(contract?.gates == ["phase"])

        // Fixed data verifies; then contract runs.
        try fixture.exec("UPDATE accounts SET email_address = email WHERE email_address IS DISTINCT FROM email")
        try fixture.run(.verify, Self.id)
        try fixture.run(.contract, Self.id)
        #expect(try fixture.int("SELECT count(*) FROM accounts WHERE email_address LIKE 'drifted%'") == 3)
    }

    @Test func aVerifiedPlanThatNoLongerVerifiesGoesBackToBackfilled() throws {
        let fixture = try EngineFixture("verify")
        defer { fixture.close() }
        try Self.setUp(fixture)
        try fixture.forward(Self.id, through: .verify)
        try fixture.exec("""
            BEGIN;
            SELECT set_config('bellows.backfill', '\(Self.id)', true);
            UPDATE accounts SET email_address = 'corrupt@example.com' WHERE id = 10;
            COMMIT;
            """)
        let refusal = expectRefusal { try fixture.run(.verify, Self.id) }
        #expect(refusal?.gates == ["mismatch:change_1"])
        #expect(try fixture.state(Self.id)?.phase == .backfilled)
        #expect(try fixture.state(Self.id)?.verifiedAt == nil)
        #expect(expectRefusal { try fixture.run(.contract, Self.id) }?.gates == ["phase"])
    }

    @Test func aFailingCheckRefusesVerify() throws {
        let fixture = try EngineFixture("check")
        defer { fixture.close() }
        try Self.setUp(fixture, extra: """
            checks:
              - name: no_example_addresses
                sql: "SELECT count(*) FROM accounts WHERE email_address LIKE '%@example.com'"
                expect: 0
              - name: all_filled
                sql: "SELECT count(*) FROM accounts WHERE email_address IS NULL"
                expect: 0
            """)
        try fixture.forward(Self.id, through: .backfill)
        let refusal = try #require(expectRefusal { try fixture.run(.verify, Self.id) })
        #expect(refusal.gates == ["check:no_example_addresses"], "\(refusal.text)")
        #expect(refusal.failures.first?.message.contains("returned 1000, expected 0") == true, "\(refusal.text)")
        #expect(try fixture.state(Self.id)?.phase == .backfilled)
        try fixture.exec("UPDATE accounts SET email = replace(email, '@example.com', '@example.org')")
        try fixture.run(.verify, Self.id)
        #expect(try fixture.state(Self.id)?.phase == .verified)
    }

    /// A plan expanded by a Bellows without stored plan text (its state row has none) is guarded by
    /// the checksum of the file as expanded: contract refuses an edited file, and goes on once the
    /// file is restored. (Since the stored text, `contractGates` meets `plan-changed` first; this
    /// is the only test of the checksum gate itself — the `contract-without-checksum-gate` mutant.)
    @Test func aPlanExpandedWithoutStoredTextIsGuardedByItsChecksum() throws {
        let fixture = try EngineFixture("legacy_checksum")
        defer { fixture.close() }
        try Self.setUp(fixture)
        try fixture.forward(Self.id, through: .verify)
        try fixture.exec("UPDATE bellows.plans SET plan_text = NULL, plan_path = NULL WHERE id = '\(Self.id)'")
        let path = fixture.planPath(Self.id)
        let original = try String(contentsOfFile: path, encoding: .utf8)
        try (original + "# edited after expand\n").write(toFile: path, atomically: true, encoding: .utf8)
        try unchanged(fixture) {
            let refusal = expectRefusal { try fixture.run(.contract, Self.id) }
            #expect(refusal?.gates == ["checksum"], "\(refusal?.text ?? "")")
            #expect(refusal?.failures.first?.remedy?.contains("restore the file") == true)
        }
        try original.write(toFile: path, atomically: true, encoding: .utf8)
        try fixture.run(.contract, Self.id)
        #expect(try fixture.state(Self.id)?.phase == .contracted)
    }

    /// Hostile finding 16 (2026-12-02b): `expect` compares by the YAML value's type — a boolean
    /// with PostgreSQL's `t`/`f`, a number by value (`0` is `0.0`), `null` with SQL NULL, a
    /// quoted string as text.
    @Test func checksCompareTheExpectedValueByItsType() throws {
        let fixture = try EngineFixture("checkvalue")
        defer { fixture.close() }
        try Self.setUp(fixture, extra: """
            checks:
              - name: all_have_email
                sql: "SELECT bool_and(email_address IS NOT NULL) FROM accounts"
                expect: true
              - name: none_without_email
                sql: "SELECT bool_or(email_address IS NULL) FROM accounts"
                expect: FALSE
              - name: no_missing_as_decimal
                sql: "SELECT count(*) FROM accounts WHERE email_address IS NULL"
                expect: 0.0
              - name: average_id
                sql: "SELECT avg(id) FROM accounts"
                expect: 500.5
              - name: nothing_noted
                sql: "SELECT max(note) FROM accounts"
                expect: null
              - name: text_as_written
                sql: "SELECT 'true'"
                expect: "true"
            """)
        try fixture.forward(Self.id, through: .backfill)
        try fixture.run(.verify, Self.id)
        #expect(try fixture.state(Self.id)?.phase == .verified)
    }

    @Test func aQuotedExpectationComparesAsText() throws {
        let fixture = try EngineFixture("checktext")
        defer { fixture.close() }
        try Self.setUp(fixture, extra: """
            checks:
              - name: quoted_decimal
                sql: "SELECT count(*) FROM accounts WHERE email_address IS NULL"
                expect: "0.0"
              - name: quoted_boolean
                sql: "SELECT true"
                expect: 'true'
            """)
        try fixture.forward(Self.id, through: .backfill)
        let refusal = try #require(expectRefusal { try fixture.run(.verify, Self.id) })
        #expect(refusal.gates == ["check:quoted_decimal", "check:quoted_boolean"], "\(refusal.text)")
        #expect(refusal.failures.first?.message.contains("returned 0, expected \"0.0\"") == true, "\(refusal.text)")
    }

    @Test func contractGates() throws {
        let fixture = try EngineFixture("contract")
        defer { fixture.close() }
        try Self.setUp(fixture, extra: """
            gates:
              - name: app-reads-email-address
                before: contract
                description: every instance reads email_address
            """)
        try fixture.forward(Self.id, through: .verify)
        let confirmed: (inout EngineOptions) -> Void = { $0.confirmations = ["app-reads-email-address"] }

        // An unconfirmed manual gate.
        try unchanged(fixture) {
            let refusal = expectRefusal { try fixture.run(.contract, Self.id) }
            #expect(refusal?.gates == ["gate:app-reads-email-address"], "\(refusal?.text ?? "")")
            #expect(refusal?.failures.first?.remedy?.contains("--confirm app-reads-email-address") == true)
        }
        // A verification older than allowed.
        try unchanged(fixture) {
            let refusal = expectRefusal { try fixture.run(.contract, Self.id) { confirmed(&$0); $0.maxVerificationAgeSeconds = 0 } }
            #expect(refusal?.gates == ["verification-age"], "\(refusal?.text ?? "")")
        }
        // A disabled dual-write trigger.
        try fixture.exec("ALTER TABLE accounts DISABLE TRIGGER \"\(Self.trigger)\"")
        try unchanged(fixture) {
            let refusal = expectRefusal { try fixture.run(.contract, Self.id, confirmed) }
            #expect(refusal?.gates == ["trigger"], "\(refusal?.text ?? "")")
        }
        // Enabled again, but not ALWAYS: writers in replica mode would bypass it.
        try fixture.exec("ALTER TABLE accounts ENABLE TRIGGER \"\(Self.trigger)\"")
        try unchanged(fixture) {
            let refusal = expectRefusal { try fixture.run(.contract, Self.id, confirmed) }
            #expect(refusal?.gates == ["trigger"], "\(refusal?.text ?? "")")
            #expect(refusal?.failures.first?.remedy?.contains("ENABLE ALWAYS TRIGGER") == true)
        }
        // Back in force for everyone, but it was not since verify: verify again.
        try fixture.exec("ALTER TABLE accounts ENABLE ALWAYS TRIGGER \"\(Self.trigger)\"")
        try unchanged(fixture) {
            let refusal = expectRefusal { try fixture.run(.contract, Self.id, confirmed) }
            #expect(refusal?.gates == ["trigger-since-verify"], "\(refusal?.text ?? "")")
        }
        try fixture.run(.verify, Self.id)
        // The plan file changed since expand, and the change matters (an edit of comments
        // only goes on: StoredPlanTests).
        let path = fixture.planPath(Self.id)
        let original = try String(contentsOfFile: path, encoding: .utf8)
        try original.replacingOccurrences(of: "not_null: true", with: "not_null: false").write(toFile: path, atomically: true, encoding: .utf8)
        try unchanged(fixture) {
            let refusal = expectRefusal { try fixture.run(.contract, Self.id, confirmed) }
            #expect(refusal?.gates == ["plan-changed"], "\(refusal?.text ?? "")")
        }
        try original.write(toFile: path, atomically: true, encoding: .utf8)
        let refusedEvents = try fixture.events(Self.id).filter { $0.command == "contract" && $0.outcome == "refused" }
        #expect(refusedEvents.count == 6)

        // An approval recorded with `bellows approve` (bound to the file's checksum) opens the gate.
        try fixture.engine().approve(plan: Self.id, gate: "app-reads-email-address")
        #expect(try fixture.events(Self.id).last?.outcome == "approved")
        try fixture.run(.contract, Self.id)
        #expect(try fixture.state(Self.id)?.phase == .contracted)
    }

    @Test func confirmationOnTheCommandLineOpensTheGate() throws {
        let fixture = try EngineFixture("contract")
        defer { fixture.close() }
        try Self.setUp(fixture, extra: """
            gates:
              - name: app-reads-email-address
                before: contract
            """)
        try fixture.forward(Self.id, through: .verify)
        #expect(expectRefusal { try fixture.run(.contract, Self.id) }?.gates == ["gate:app-reads-email-address"])
        try fixture.run(.contract, Self.id) { $0.confirmations = ["app-reads-email-address"] }
        #expect(try fixture.state(Self.id)?.phase == .contracted)
        let contract = try #require(try fixture.events(Self.id).last)
        #expect(contract.command == "contract" && contract.outcome == "succeeded" && contract.details.contains("app-reads-email-address"))
    }
}
