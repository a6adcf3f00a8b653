@testable import BellowsEngine
import PGClient
import Testing

/// Contract's writability proof, decided without a database (`WritabilityProof`): which failed
/// writes refuse contract, and which triggers the writes cannot be shown to have fired.
struct WritabilityDecisionTests {
    static let rowBefore = 0b0000_0011, rowAfter = 0b0000_0001, insert = 4, delete = 8, update = 16, truncate = 32

    func trigger(_ name: String, _ type: Int, source: String = "BEGIN NEW.email := lower(NEW.email); RETURN NEW; END",
                 enabled: String = "O", when: Bool = false, columns: [Int] = [], language: String = "plpgsql") -> TriggerFunctionSource {
        TriggerFunctionSource(trigger: name, function: "\(name)()", source: source, type: type, enabled: enabled, hasWhen: when,
                              columns: columns, language: language)
    }

    func error(_ state: String, _ message: String, context: String? = nil, table: String? = nil) -> PostgresError {
        var error = PostgresError(kind: .server, message: message, sqlState: SQLState(state))
        error.context = context
        error.table = table
        return error
    }

    func run(_ results: [ProbeEvent: ProbeResult], columns: Set<Int> = [1, 2]) -> ProbeRun {
        ProbeRun(results: results, updatedColumns: columns)
    }

    func decide(_ triggers: [TriggerFunctionSource], before: ProbeRun, after: ProbeRun) -> [GateFailure] {
        WritabilityProof.failures(table: "public.accounts", triggers: triggers, before: before, after: after,
                                  replaced: ["email"], gone: ["email"])
    }

    @Test func aWriteThatWorkedBeforeAndFailsAfterRefusesOnceNamingTheTrigger() {
        let missing = error("42703", "record \"new\" has no field \"email\"", context: "PL/pgSQL function norm() line 1 at assignment")
        let all = run([.update: .wrote, .insert: .wrote, .delete: .notRun("no trigger of the table fires on DELETE")])
        let failures = decide([trigger("norm", Self.rowBefore | Self.insert | Self.update)], before: all,
                              after: run([.update: .failed(missing), .insert: .failed(missing), .delete: .notRun("-")]))
        #expect(failures.count == 1)
        let message = failures.first?.message ?? ""
        #expect(message.contains("an INSERT of a copy of one row") && message.contains("an UPDATE of one row"), "\(message)")
        #expect(message.contains("(SQLSTATE 42703)") && message.contains("trigger norm (BEFORE INSERT OR UPDATE) runs norm()"), "\(message)")
    }

    @Test func aWriteThatFailedBeforeTooShowsNothingAndLeavesTheSourceToDecide() {
        let refusedDelete = error("P0001", "append-only")
        let before = run([.update: .wrote, .insert: .wrote, .delete: .failed(refusedDelete)])
        let after = run([.update: .wrote, .insert: .wrote, .delete: .failed(refusedDelete)])
        #expect(decide([trigger("keep", Self.rowBefore | Self.delete, source: "BEGIN RAISE EXCEPTION 'append-only'; END")],
                       before: before, after: after).isEmpty)
        let failures = decide([trigger("audit", Self.rowAfter | Self.delete)], before: before, after: after)
        #expect(failures.count == 1 && failures[0].message.contains("fails before contract's changes too (P0001: append-only)"),
                "\(failures)")
    }

    @Test func aCopyRefusedByTheTablesKeyReachesBeforeTriggersOnly() {
        let conflict = ProbeResult.refusedAsData(error("23505", "duplicate key", table: "accounts"), ownTable: true)
        let probes = run([.update: .wrote, .insert: conflict, .delete: .notRun("-")])
        #expect(decide([trigger("norm", Self.rowBefore | Self.insert)], before: probes, after: probes).isEmpty)
        let failures = decide([trigger("audit", Self.rowAfter | Self.insert)], before: probes, after: probes)
        #expect(failures.count == 1 && failures[0].message.contains("refused as data (23505: duplicate key), so AFTER INSERT triggers did not fire"),
                "\(failures)")
        // Refused by another table (a trigger's own write): even BEFORE triggers are not shown to have run.
        let elsewhere = run([.update: .wrote, .insert: .refusedAsData(error("23505", "duplicate key", table: "audit"), ownTable: false)])
        #expect(decide([trigger("norm", Self.rowBefore | Self.insert)], before: elsewhere, after: elsewhere).count == 1)
    }

    @Test func triggersNoWriteReachesAreDecidedByTheirSource() {
        let empty = run([.update: .notRun("the table has no row to copy or update"), .insert: .notRun("the table has no row to copy or update")])
        let failures = decide([
            trigger("norm", Self.rowBefore | Self.insert | Self.update),
            trigger("stamp", Self.rowBefore | Self.insert | Self.update, source: "BEGIN NEW.updated_at := now(); RETURN NEW; END"),
        ], before: empty, after: empty)
        #expect(failures.map(\.message).count == 1)
        #expect(failures.first?.message.contains("trigger norm (BEFORE INSERT OR UPDATE) runs norm(), whose source names email") == true)
        #expect(failures.first?.message.contains("the table has no row to copy or update") == true)

        let wrote = run([.update: .wrote, .insert: .wrote, .delete: .wrote], columns: [1, 2])
        #expect(decide([trigger("t", Self.rowBefore | Self.update, when: true)], before: wrote, after: wrote).first?.message.contains("WHEN") == true)
        #expect(decide([trigger("t", Self.rowBefore | Self.update, enabled: "D")], before: wrote, after: wrote).first?.message.contains("disabled") == true)
        #expect(decide([trigger("t", Self.rowBefore | Self.update, columns: [3])], before: wrote, after: wrote).first?.message.contains("UPDATE OF") == true)
        #expect(decide([trigger("t", Self.truncate)], before: wrote, after: wrote).first?.message.contains("TRUNCATE") == true)
        #expect(decide([trigger("t", Self.rowBefore | Self.update, columns: [2])], before: wrote, after: wrote).isEmpty)
        let skipped = run([.update: .wrote, .insert: .noRow])
        #expect(decide([trigger("t", Self.rowAfter | Self.insert)], before: skipped, after: skipped).first?.message.contains("changed no row") == true)
        #expect(decide([trigger("t", Self.insert)], before: skipped, after: skipped).isEmpty)
    }

    @Test func aCommentOrAStringConstantNamesNoColumn() {
        let body = """
            BEGIN
              -- email is checked by the application
              IF to_jsonb(NEW) ->> 'email_address' NOT LIKE '%@%' THEN RAISE EXCEPTION 'bad email'; END IF;
              RETURN NULL;
            END
            """
        #expect(trigger("t", Self.rowAfter, source: body).mentions(["email"]).isEmpty)
        #expect(trigger("t", Self.rowAfter, source: "BEGIN PERFORM NEW.\"Email\"; END").mentions(["email"]) == ["email"])
        #expect(trigger("t", Self.rowAfter, source: "TD['new']['email']", language: "plpython3u").mentions(["email"]) == ["email"])
        #expect(trigger("t", Self.rowAfter, source: "emails").mentions(["email"]).isEmpty)
    }
}
