@testable import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// The hooks of `bellows.yaml` against a real PostgreSQL (issue 21): a failing `before` hook
/// refuses the phase like a closed gate, recorded with its output; an `after` hook reads the
/// event on its standard input and its failure never undoes the phase; a hook that hangs is
/// stopped at its timeout.
@Suite(needsDatabase)
struct HookTests {
    static let plan = "001_rename_email"

    func prepare(_ fixture: EngineFixture, hooks: String, rows: Int = 1_000) throws {
        try fixture.exec("""
            CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);
            INSERT INTO users SELECT g, 'user' || g || '@example.com' FROM generate_series(1, \(rows)) AS g;
            ANALYZE users;
            """)
        try fixture.writePlan(Self.plan, """
            table: users
            changes:
              - alter: email
                rename_to: email_address
            backfill:
              pause_ms: 0
            """)
        try hooks.write(toFile: fixture.root + "/bellows.yaml", atomically: true, encoding: .utf8)
    }

    func read(_ fixture: EngineFixture, _ name: String) throws -> String {
        try String(contentsOfFile: fixture.root + "/" + name, encoding: .utf8)
    }

    @Test func aFailingBeforeContractHookRefusesTheContractAndHistoryHasItsOutput() throws {
        let fixture = try EngineFixture("hook-before")
        defer { fixture.close() }
        // Run in the project directory: the marker file is relative.
        try prepare(fixture, hooks: """
            hooks:
              commands:
                - name: backup-taken
                  when: before contract
                  run: test -f backup.done || { echo "no backup of $BELLOWS_TABLE since yesterday"; echo "ask ops" >&2; exit 1; }
                - name: tell-refusal
                  when: refused
                  run: cat > refused.json
            """)
        try fixture.forward(Self.plan, through: .verify)
        let shapeBefore = try fixture.snapshot("users")
        #expect(throws: BellowsError.self) { try fixture.run(.contract, Self.plan) }
        do {
            try fixture.run(.contract, Self.plan)
        } catch BellowsError.refused(let refusal) {
            let gate = try #require(refusal.failures.first)
            #expect(refusal.failures.count == 1 && gate.gate == "hook:backup-taken")
            #expect(gate.message.contains("exited 1") && gate.message.contains("no backup of users since yesterday") && gate.message.contains("ask ops"))
        }
        // Nothing changed: the plan is verified, the table as it was.
        #expect(try fixture.state(Self.plan)?.phase == .verified)
        #expect(try fixture.snapshot("users") == shapeBefore)
        // The refusal is in the audit trail with the hook's output.
        let refusal = try #require(try fixture.events(Self.plan).last)
        #expect(refusal.command == "contract" && refusal.outcome == "refused")
        let details = try #require(try JSONSerialization.jsonObject(with: Data(refusal.details.utf8)) as? [String: Any])
        let hook = try #require(details["hook"] as? [String: Any])
        #expect(hook["hook"] as? String == "backup-taken" && hook["exit_code"] as? Int == 1)
        #expect((hook["output"] as? String)?.contains("no backup of users since yesterday") == true)
        let failures = try #require(details["failures"] as? [[String: Any]])
        #expect(failures.first?["gate"] as? String == "hook:backup-taken")
        // The `refused` hook was told, with the closed gate.
        let told = try JSONDecoder().decode(HookEvent.self, from: Data(try read(fixture, "refused.json").utf8))
        #expect(told.event == .refused && told.phase == .contract && told.outcome == "refused" && told.from == .verified)
        #expect(told.failures?.first?.gate == "hook:backup-taken")

        // Once the backup is taken, the hook passes and contract runs.
        FileManager.default.createFile(atPath: fixture.root + "/backup.done", contents: Data())
        let outcome = try fixture.run(.contract, Self.plan)
        #expect(outcome.to == .contracted && outcome.hooks.map(\.hook) == ["backup-taken"] && outcome.hooks.allSatisfy(\.succeeded))
    }

    @Test func anAfterBackfillHookReceivesTheEventAndAFailingAfterHookUndoesNothing() throws {
        let fixture = try EngineFixture("hook-after")
        defer { fixture.close() }
        try prepare(fixture, hooks: """
            hooks:
              progress_minutes: 0.0001
              commands:
                - name: record
                  when: after backfill
                  run: cat > event.json; env | grep '^BELLOWS_' | sort > env.txt
                - name: progress
                  when: progress
                  run: cat >> progress.jsonl
                - name: broken-notifier
                  when: after verify
                  run: echo "chat is down"; exit 3
            """, rows: 3_000)
        try fixture.run(.expand, Self.plan)
        let outcome = try fixture.run(.backfill, Self.plan)
        #expect(outcome.hooks.map(\.hook) == ["record"])

        let event = try JSONDecoder().decode(HookEvent.self, from: Data(try read(fixture, "event.json").utf8))
        #expect(event.event == .after && event.phase == .backfill && event.outcome == "succeeded")
        #expect(event.plan == Self.plan && event.table == "users" && event.hook == "record")
        #expect(event.from == .expanded && event.to == .backfilled && event.actor == "engine-tests")
        #expect(event.project == URL(fileURLWithPath: fixture.root).standardizedFileURL.path)
        guard case .object(let details) = try #require(event.details) else { Issue.record("details: \(String(describing: event.details))"); return }
        #expect(details["rows_updated"] == .int(3_000))
        let environment = try read(fixture, "env.txt")
        for line in ["BELLOWS_EVENT=after", "BELLOWS_PHASE=backfill", "BELLOWS_PLAN=\(Self.plan)", "BELLOWS_OUTCOME=succeeded",
                     "BELLOWS_TABLE=users", "BELLOWS_FROM_PHASE=expanded", "BELLOWS_TO_PHASE=backfilled", "BELLOWS_HOOK=record"] {
            #expect(environment.contains(line + "\n"), "\(line) in \(environment)")
        }
        // Progress events came between the batches (batches of 250: 12 of them).
        let progress = try read(fixture, "progress.jsonl").split(separator: "\n")
        #expect(!progress.isEmpty)
        let first = try JSONDecoder().decode(HookEvent.self, from: Data(try #require(progress.first).utf8))
        #expect(first.event == .progress && first.outcome == "running" && (first.progress?.rowsScanned ?? 0) > 0)

        // An after hook that fails is reported and recorded; the phase stays done.
        let verified = try fixture.run(.verify, Self.plan)
        #expect(verified.to == .verified)
        #expect(try fixture.state(Self.plan)?.phase == .verified)
        let failed = try #require(verified.hooks.first)
        #expect(!failed.succeeded && failed.exitCode == 3 && failed.output.contains("chat is down"))
        let last = try #require(try fixture.events(Self.plan).last)
        #expect(last.command == "hook" && last.outcome == "failed" && last.fromPhase == "verified")
        #expect(last.details.contains("chat is down") && last.details.contains("broken-notifier"))
    }

    @Test func aHangingHookIsStoppedAtItsTimeoutAndRefusesThePhase() throws {
        let fixture = try EngineFixture("hook-timeout")
        defer { fixture.close() }
        try prepare(fixture, hooks: """
            hooks:
              commands:
                - name: hangs
                  when: before backfill
                  run: grep SigBlk /proc/self/status > sigs.txt; echo waiting; sleep 60 & echo $! > sleep.pid; wait
                  timeout_seconds: 1
            """)
        try fixture.run(.expand, Self.plan)
        let started = Date()
        do {
            try fixture.run(.backfill, Self.plan)
            Issue.record("the backfill ran past a hanging before hook")
        } catch BellowsError.refused(let refusal) {
            #expect(refusal.failures.map(\.gate) == ["hook:hangs"])
            #expect(refusal.failures.first?.message.contains("timed out after 1 s and was stopped:") == true, "\(refusal.failures)")
            #expect(refusal.failures.first?.message.contains("waiting") == true)
        }
        let seconds = Date().timeIntervalSince(started)
        // SIGTERM ends it (no SIGKILL after the 5 s grace): the hook does not inherit a blocked SIGTERM.
        #expect(seconds < 5.5, "stopped after \(seconds) s; \((try? read(fixture, "sigs.txt")) ?? "")")
        #expect(try fixture.state(Self.plan)?.phase == .expanded)
        #expect(try fixture.int("SELECT count(*) FROM users WHERE email_address IS NOT NULL") == 0)
        // The hook's own children went with it (its process group was signalled).
        let pid = try #require(Int32(try read(fixture, "sleep.pid").trimmingCharacters(in: .whitespacesAndNewlines)))
        var gone = false
        for _ in 0..<50 where !gone {
            gone = kill(pid, 0) != 0 && errno == ESRCH
            if !gone { usleep(100_000) }
        }
        #expect(gone, "the hook's background sleep (pid \(pid)) still runs")
    }

    /// hostile-f 01: a hook that exits 0 at once but leaves a child running (a notifier sent to
    /// the background, a `setsid` daemon) is done when its shell is: Foundation's Process waited
    /// for the children holding the output pipe, called it "timed out" and refused the phase.
    @Test func aHookThatLeavesAChildRunningIsDoneWhenItsShellExits() throws {
        let fixture = try EngineFixture("hook-child")
        defer { fixture.close() }
        try prepare(fixture, hooks: """
            hooks:
              commands:
                - name: notifier
                  when: before backfill
                  run: (sleep 20; echo late) & echo started-notifier
                  timeout_seconds: 3
                - name: daemon
                  when: before backfill
                  run: setsid sleep 20 & echo ok
                  timeout_seconds: 3
            """, rows: 50)
        try fixture.run(.expand, Self.plan)
        let started = Date()
        try fixture.run(.backfill, Self.plan)
        #expect(Date().timeIntervalSince(started) < 2.5)
        #expect(try fixture.state(Self.plan)?.phase == .backfilled)
    }

    /// hostile-f 03: a hook's output holding a NUL byte made the refusal's event (jsonb refuses
    /// \u0000) fail to be written, silently: `history` lacked the refusal.
    @Test func aRefusalWhoseHookPrintedANulIsInHistory() throws {
        let fixture = try EngineFixture("hook-nul")
        defer { fixture.close() }
        try prepare(fixture, hooks: """
            hooks:
              commands:
                - name: backup-check
                  when: before backfill
                  run: printf 'a\\000b'; exit 1
            """, rows: 50)
        try fixture.run(.expand, Self.plan)
        #expect(throws: BellowsError.self) { try fixture.run(.backfill, Self.plan) }
        #expect(try fixture.rows("SELECT command, outcome FROM bellows.events WHERE command IN ('backfill', 'hook') ORDER BY id")
                == [["backfill", "refused"]])
        #expect(try fixture.int("SELECT count(*) FROM bellows.events WHERE details::text LIKE '%a\\ufffdb%' OR details::text LIKE '%a\u{FFFD}b%'") == 1)
    }

    @Test func aBrokenHooksSectionRefusesEveryPhase() throws {
        let fixture = try EngineFixture("hook-broken")
        defer { fixture.close() }
        try prepare(fixture, hooks: """
            hooks:
              commands:
                - when: befor contract
                  run: ./check-backup
            """)
        do {
            try fixture.run(.expand, Self.plan)
            Issue.record("expand ran with an unreadable hook")
        } catch BellowsError.refused(let refusal) {
            #expect(refusal.failures.map(\.gate) == ["hooks"])
            #expect(refusal.failures.first?.message.contains("befor contract") == true)
        }
        #expect(try fixture.state(Self.plan)?.phase == .planned)
    }
}

extension HookTests {
    /// A phase that fails runs the `failed` hooks with the error; the failure is the phase's.
    @Test func aFailedPhaseRunsTheFailedHooksWithTheError() throws {
        let fixture = try EngineFixture("hook-failed")
        defer { fixture.close() }
        try fixture.exec("CREATE TABLE f (id bigint PRIMARY KEY, n int); INSERT INTO f SELECT g, g FROM generate_series(1, 10) g;")
        try fixture.writePlan("001_f", """
            table: f
            changes:
              - alter: n
                type: bigint
                up: "n / 0"
                down: "n::int"
            """)
        try """
            hooks:
              commands:
                - name: page
                  when: [failed, interrupted]
                  run: cat > failed.json
            """.write(toFile: fixture.root + "/bellows.yaml", atomically: true, encoding: .utf8)
        try fixture.run(.expand, "001_f")
        #expect(throws: BellowsError.self) { try fixture.run(.backfill, "001_f") }
        let event = try JSONDecoder().decode(HookEvent.self, from: Data(try read(fixture, "failed.json").utf8))
        #expect(event.event == .failed && event.phase == .backfill && event.outcome == "failed" && event.from == .expanded)
        #expect(event.error?.contains("division by zero") == true, "\(String(describing: event.error))")
        #expect(try fixture.state("001_f")?.phase == .expanded)
    }
}

extension HookTests {
    /// hostile-e 04: rollback is never gated — neither a failing `before` hook (a change freeze
    /// written for every phase) nor a typo in the hooks refuses it; both refused it (exit 1).
    @Test func rollbackIsNeverGatedByHooks() throws {
        let fixture = try EngineFixture("hook-rollback")
        defer { fixture.close() }
        try prepare(fixture, hooks: "", rows: 50)
        for hooks in ["hooks:\n  commands:\n    - { name: change-freeze, when: before, run: \"echo frozen; exit 1\" }\n",
                      "hooks:\n  commands:\n    - { name: chat, when: aftr, run: \"true\" }\n"] {
            try "".write(toFile: fixture.root + "/bellows.yaml", atomically: true, encoding: .utf8)
            try fixture.run(.expand, Self.plan)
            try hooks.write(toFile: fixture.root + "/bellows.yaml", atomically: true, encoding: .utf8)
            #expect(throws: BellowsError.self) { try fixture.run(.backfill, Self.plan) }
            try fixture.run(.rollback, Self.plan)
            #expect(try fixture.state(Self.plan)?.phase == .rolledBack)
        }
        // hostile-f 11: a section that does not load runs no hook at all, as the warning says,
        // not the hooks that happen to load.
        try "".write(toFile: fixture.root + "/bellows.yaml", atomically: true, encoding: .utf8)
        try fixture.run(.expand, Self.plan)
        try "hooks:\n  commands:\n    - { name: marker, when: before rollback, run: \"touch ran.marker\" }\n    - { name: bad, when: beforee rollback, run: \"true\" }\n"
            .write(toFile: fixture.root + "/bellows.yaml", atomically: true, encoding: .utf8)
        try fixture.run(.rollback, Self.plan)
        #expect(!FileManager.default.fileExists(atPath: fixture.root + "/ran.marker"))
    }
}

