import BellowsPlan
import BellowsSQL
import Foundation
import PGClient

/// Settings for running phases against a database.
public struct EngineOptions: Sendable {
    /// libpq conninfo or URI; nil = the `PG*` environment.
    public var conninfo: String?
    /// Who runs the command, for the audit trail.
    public var actor: String
    /// Overrides the plan's `backfill.lock_timeout_ms` for DDL.
    public var lockTimeoutMilliseconds: Int?
    public var statementTimeoutMilliseconds: Int = 30_000
    /// Limit for concurrent index builds (0 = none: they are long by design and block no writes).
    public var indexTimeoutMilliseconds: Int = 0
    /// How often a concurrent index build that waits for other sessions reports them.
    public var indexWaitReportSeconds: Double = 5
    public var ddlRetries: Int?
    /// Contract refuses when the last successful verify is older than this.
    public var maxVerificationAgeSeconds: Double = 24 * 3600
    /// Manual gates confirmed on the command line (`--confirm NAME`).
    public var confirmations: Set<String> = []
    /// Set by a signal. The backfill stops after its current batch; every other phase cancels
    /// its running statement, rolls back and stops (`BellowsError.stopped`, resumable).
    public var shouldStop: @Sendable () -> Bool = { false }
    /// Overrides the plan's batch size (rehearsals and tests use small batches).
    public var batchSize: Int?
    public var pauseMilliseconds: Int?
    /// Overrides the plan's `backfill.pacing`.
    public var pacing: BackfillPacing?
    /// `backfill --rescan`: on a backfilled plan, walk the table again from the first key and
    /// recompute the new columns with `up` in every row where they disagree with it (writes
    /// that bypassed the trigger), then verify again.
    public var rescan = false
    /// How often a paused backfill reads its control again (`bellows resume`).
    public var controlPollSeconds: Double = 1
    /// Whether the hooks of `bellows.yaml` run (`rehearse` turns them off: a rehearsal is no release).
    public var runHooks = true

    public init(conninfo: String? = nil, actor: String = EngineOptions.defaultActor) {
        self.conninfo = conninfo
        self.actor = actor
    }

    /// `$BELLOWS_ACTOR`, else `user@host` with the user from `USER`, `LOGNAME` or, when the
    /// environment has neither (cron, `env -i`, containers), the process's account. Empty only
    /// when none is known: the audit trail then records the database's `session_user`.
    public static var defaultActor: String {
        let env = ProcessInfo.processInfo.environment
        if let actor = env["BELLOWS_ACTOR"], !actor.isEmpty { return actor }
        let account = getpwuid(getuid()).flatMap { $0.pointee.pw_name.map { String(cString: $0) } }
        guard let user = [env["USER"], env["LOGNAME"], account].compactMap({ $0 }).first(where: { !$0.isEmpty }) else { return "" }
        return "\(user)@\(ProcessInfo.processInfo.hostName)"
    }
}

/// Moves plans through expand → backfill → verify → contract (and rollback), checking each
/// phase's gates first, and recording every attempt in the audit log.
public final class Engine: @unchecked Sendable {
    public let project: Project
    public let options: EngineOptions
    let report: Reporter
    /// The hooks of `bellows.yaml`, and the errors that leave them unknown (a phase refuses then).
    let hookConfiguration: HookConfiguration
    let hookFindings: [Finding]

    public init(project: Project, options: EngineOptions, reporter: @escaping Reporter = { _ in }) {
        self.project = project
        self.options = options
        self.report = reporter
        (hookConfiguration, hookFindings) = options.runHooks ? ProjectConfig.hooks(root: project.root) : (HookConfiguration(), [])
    }

    /// Opens a connection for a command that only reads (`status`, `history`, `wait`): it never
    /// creates nor upgrades the `bellows` schema (a read-only role, a hot standby). `hasState` is
    /// false when the database has none (no plan has run there yet); a schema an older Bellows
    /// made is read as it is: no `bellows.controls` is no control, a column an upgrade adds is
    /// absent (`StateStore.plans`). The session is `default_transaction_read_only`, so nothing
    /// it runs can write.
    func connectForReading() throws -> (connection: Connection, hasState: Bool) {
        let connection = try BellowsError.connect(options.conninfo)
        do {
            try ServerVersion.requireSupported(connection)
            try connection.execute("SET application_name = 'bellows'")
            try connection.execute("SET row_security = off")
            let hasState = try StateStore.exists(connection)
            try connection.execute("SET default_transaction_read_only = on")
            return (connection, hasState)
        } catch let error as PostgresError {
            throw BellowsError.database(error)
        }
    }

    /// Opens a connection with Bellows' session settings and the state schema in place.
    public func connect() throws -> Connection {
        let connection = try BellowsError.connect(options.conninfo)
        do {
            try ServerVersion.requireSupported(connection)
            try Self.prepareSession(connection, applicationName: "bellows")
            // A row-level security policy must never filter what a phase reads or writes: with
            // row_security off, PostgreSQL refuses such a statement instead (TableSafety).
            try connection.execute("SET row_security = off")
            try StateStore.refuseIfPublished(connection, project: project)
            try StateStore.ensure(connection)
            return connection
        } catch let error as PostgresError {
            let explained = BellowsError.database(error).explainingReadOnly(connection)
            connection.close()
            throw explained
        } catch {
            connection.close()
            throw error
        }
    }

    /// Prepares one of Bellows' sessions (a command's own, a backfill's VACUUM or helper walker):
    /// idle between its statements (a paused backfill, a gate), it must not be ended by a
    /// role's or database's idle_session_timeout (hostile-l 07: a paused backfill was killed);
    /// killed, Bellows leaves nothing running on it: the server checks every second that its
    /// client is there (both 14+; without the check an orphan VACUUM held the table's vacuum
    /// lock for its whole run, and the resumed backfill's VACUUMs were all skipped, hostile-i 04).
    static func prepareSession(_ session: Connection, applicationName: String) throws {
        try session.execute("""
            SELECT set_config('application_name', $1, false),
                   (SELECT set_config(name, '0', false) FROM pg_settings WHERE name = 'idle_session_timeout'),
                   (SELECT set_config(name, '1s', false) FROM pg_settings WHERE name = 'client_connection_check_interval')
            """, [applicationName])
    }

    func policy(for plan: Plan) -> LockPolicy {
        var policy = LockPolicy(lockTimeoutMilliseconds: options.lockTimeoutMilliseconds ?? plan.backfill.lockTimeoutMilliseconds,
                                statementTimeoutMilliseconds: options.statementTimeoutMilliseconds,
                                retries: options.ddlRetries ?? plan.backfill.retries)
        policy.shouldStop = options.shouldStop
        return policy
    }

    // MARK: - Running one command

    /// Runs one phase command for a plan (a path, a file stem or a sequence number).
    @discardableResult
    public func run(_ command: PhaseCommand, plan reference: String) throws -> PhaseOutcome {
        try requireProject(for: reference)
        let connection = try connect()
        defer { connection.close() }
        do {
            return try run(command, plan: try resolvePlan(reference, connection: connection, forRollback: command == .rollback), connection: connection)
        } catch let error as BellowsError {
            throw error.explainingReadOnly(connection)
        }
    }

    /// One phase with its hooks: `before` hooks run once the phase may run (a failing one
    /// refuses it), `after` hooks once it committed, and `refused`, `failed` or `interrupted`
    /// hooks when it ended so (their failures are recorded, never change the outcome).
    func run(_ command: PhaseCommand, plan file: Plan, connection: Connection) throws -> PhaseOutcome {
        var from: Phase?
        do {
            var outcome = try runPhase(command, plan: file, connection: connection, from: &from)
            outcome.hooks += runHooks(.after, command, plan: file, from: outcome.from, to: outcome.to, connection: connection) { event in
                event.durationMs = outcome.milliseconds
                event.details = .object(outcome.details)
            }
            return outcome
        } catch let error as BellowsError {
            let kind: HookEventKind?
            switch error {
            case .refused: kind = .refused
            case .failed, .database: kind = .failed
            case .interrupted, .stopped: kind = .interrupted
            case .planInvalid, .usage, .cannotConnect: kind = nil
            }
            if let kind {
                var phase = from
                if case .refused(let refusal) = error { phase = refusal.phase }
                _ = runHooks(kind, command, plan: file, from: phase, connection: connection) { event in
                    event.error = error.description
                    if case .refused(let refusal) = error { event.failures = refusal.failures }
                }
            }
            throw error
        }
    }

    func runPhase(_ command: PhaseCommand, plan file: Plan, connection: Connection, from: inout Phase?) throws -> PhaseOutcome {
        var plan = file
        let started = Date()
        let lock = try connection.query("SELECT pg_try_advisory_lock(hashtext('bellows'), hashtext($1)) AS locked", [plan.id])
        guard try lock.first?.bool("locked") == true else {
            let holder = try? connection.query("""
                SELECT a.pid, a.application_name, a.usename FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                WHERE l.locktype = 'advisory' AND l.classid = hashtext('bellows')::oid AND l.objid = hashtext($1)::oid AND l.granted
                  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) LIMIT 1
                """, [plan.id]).first
            let who = holder.flatMap { try? "pid \($0.int("pid")) (\($0.optionalString("usename") ?? "?"))" } ?? "another session"
            let state = try StateStore.register(connection, plan: plan)
            throw refuse(connection, plan: plan, command: command, phase: state.phase, [GateFailure(
                gate: "lock", message: "\(who) is already running a command on plan \(plan.id)",
                remedy: "wait for it to finish, then run `bellows status` to see where the plan stands")])
        }
        defer { _ = try? connection.execute("SELECT pg_advisory_unlock(hashtext('bellows'), hashtext($1))", [plan.id]) }

        let state: PlanState
        do { state = try StateStore.register(connection, plan: plan) } catch let e as PostgresError { throw BellowsError.database(e) }
        from = state.phase
        if let failure = Self.planIDFailure(plan, state: state) {
            throw refuse(connection, plan: plan, command: command, phase: .planned, [failure],
                         details: ["table": .string(plan.table.value.description), "file": .string(plan.file)])
        }
        let resumingExpand = command == .expand && state.expanding
        let rollbackOfPartialExpand = command == .rollback && state.expanding
        // A contracted plan whose declared foreign key's VALIDATE did not finish (hostile-d 19).
        let finishingContract = command == .contract && state.phase == .contracted && !state.owedValidations.isEmpty
        guard command.requiredPhases.contains(state.phase) || resumingExpand || rollbackOfPartialExpand || finishingContract else {
            throw refuse(connection, plan: plan, command: command, phase: state.phase, [phaseGate(command, state.phase, plan: plan)])
        }
        // An expanded plan goes on with the text expand stored (the file may have been edited or removed since).
        plan = try planAsExpanded(file, state: state, command: command, connection: connection)
        // A `--confirm` that names no gate of the plan is a mistake (a typo), not a no-op.
        let unknownGates = options.confirmations.sorted().compactMap { plan.unknownGateMessage($0) }
        if !unknownGates.isEmpty {
            throw BellowsError.usage(unknownGates.map { "--confirm: " + $0 }.joined(separator: "\n"))
        }
        // Every forward phase runs exactly the validation of `check --database` first: no phase
        // compiles or runs an expression `check` rejects, and the plan is judged against the tables
        // of the database it is about to change (with the plans in flight there), never against the
        // schema the files model (a DO block, a LIKE, a removed plan file). Rollback only removes
        // what expand added, and must stay possible.
        if command != .rollback && !finishingContract {
            let live: LiveSchema
            do {
                live = try LiveSchema.read(connection, tables: ([file] + project.loadPlans().plans).map(\.table.value))
            } catch let e as PostgresError { throw BellowsError.database(e) }
            let errors = ProjectCheck.check(project: project, plan: file, live: live).filter { $0.severity == .error }
            if !errors.isEmpty {
                throw refuse(connection, plan: plan, command: command, phase: state.phase, errors.map {
                    GateFailure(gate: "plan", message: "\($0.location): \($0.message) [\($0.rule)]",
                                remedy: "fix the plan; `bellows check --database` reports the same findings")
                })
            }
        }
        // The hooks must be known before a phase runs: one that cannot be read is not skipped.
        // Rollback, the way out, is never gated (hostile-e 04): it runs without them, and says so.
        if !hookFindings.isEmpty && command == .rollback {
            report(.info("warning: the hooks in \(ProjectConfig.fileName) do not load (" + hookFindings.map { "\($0.location): \($0.message)" }.joined(separator: "; ")
                         + "): rollback runs without them"))
        } else if !hookFindings.isEmpty {
            throw refuse(connection, plan: plan, command: command, phase: state.phase, hookFindings.map {
                GateFailure(gate: "hooks", message: "\($0.location): \($0.message) [\($0.rule)]",
                            remedy: "fix the hooks in \(ProjectConfig.fileName); `bellows check` reports the same findings")
            })
        }
        // `before` hooks: the last gate. One that fails (or times out) refuses the phase, nothing changed.
        let beforeHooks = runHooks(.before, command, plan: plan, from: state.phase, connection: connection,
                                   recordFailures: command == .rollback, stopAtFirstFailure: command != .rollback)
        if command == .rollback {
            for failed in beforeHooks where !failed.succeeded {
                report(.info("warning: the before-rollback hook '\(failed.hook)' failed; rollback is never gated, so it goes on"))
            }
        } else if let failed = beforeHooks.first(where: { !$0.succeeded }) {
            if options.shouldStop() {
                throw stopped(plan: plan, command: command, from: state.phase, connection: connection, because: nil)
            }
            throw refuse(connection, plan: plan, command: command, phase: state.phase, [Self.hookGate(failed, command: command)],
                         details: ["hook": failed.json])
        }
        // A signal cancels the statement running now (the backfill stops between batches instead).
        let watcher = command == .backfill ? nil : StopWatcher(connection: connection, shouldStop: options.shouldStop)
        defer { watcher?.finish() }
        do {
            var details: [String: JSONValue]
            if plan.moveColumns != nil {
                details = try runMove(command, plan: plan, state: state, connection: connection)
            } else {
            switch command {
            case .expand: details = try expand(plan, state: state, connection: connection)
            case .backfill: details = try backfill(plan, state: state, connection: connection)
            case .verify: details = try verify(plan, state: state, connection: connection)
            case .contract: details = try contract(plan, state: state, connection: connection)
            case .rollback: details = try rollback(plan, state: state, connection: connection)
            }
            }
            details["checksum"] = .string(plan.checksum)
            return PhaseOutcome(plan: plan.id, command: command, from: state.phase, to: command.resultingPhase,
                                milliseconds: Date().timeIntervalSince(started) * 1000, details: details, hooks: beforeHooks)
        } catch is StopRequested {
            throw stopped(plan: plan, command: command, from: state.phase, connection: connection, because: nil)
        } catch let error as PhaseFailure where options.shouldStop() || !connection.isOpen {
            throw stopped(plan: plan, command: command, from: state.phase, connection: connection, because: error.error)
        } catch let error as PostgresError where options.shouldStop() || !connection.isOpen {
            throw stopped(plan: plan, command: command, from: state.phase, connection: connection, because: error)
        } catch var error as PhaseFailure {
            error.error = TableSafety.explained(error.error)
            recordQuietly(connection, plan: plan, command: command, from: state.phase, outcome: "failed",
                          details: ["step": .string(error.purpose), "error": .string(error.error.description),
                                    "sqlstate": .optional(error.error.sqlState?.rawValue)])
            throw BellowsError.failed(plan: plan.id, command: command, purpose: error.purpose, error: error.error)
        } catch let raw as PostgresError {
            let error = TableSafety.explained(raw)
            recordQuietly(connection, plan: plan, command: command, from: state.phase, outcome: "failed",
                          details: ["error": .string(error.description), "sqlstate": .optional(error.sqlState?.rawValue)])
            throw BellowsError.database(error)
        }
    }

    /// Backfill and verify compute with the plan file as it is now: it must be the file that was expanded.
    func checksumFailures(_ plan: Plan, state: PlanState) -> [GateFailure] {
        guard let expanded = state.expandChecksum, expanded != plan.checksum else { return [] }
        return [GateFailure(gate: "checksum",
                            message: "the plan file changed since expand (sha256 \(expanded.prefix(12))… → \(plan.checksum.prefix(12))…)",
                            remedy: "restore the file as it was expanded, or roll back and start again with the new plan")]
    }

    func phaseGate(_ command: PhaseCommand, _ phase: Phase, plan: Plan) -> GateFailure {
        let needed = command.requiredPhases.map(\.rawValue).joined(separator: " or ")
        let next = PhaseCommand.next(after: phase)
        return GateFailure(
            gate: "phase", message: "\(command.rawValue) needs the plan to be \(needed); it is \(phase.rawValue)",
            remedy: next.map { "the next step is `bellows \($0.rawValue) \(plan.id)`" }
                ?? "the plan is contracted; a further change needs a new plan")
    }

    /// Records a refusal in the audit log and returns the error to throw.
    func refuse(_ connection: Connection, plan: Plan, command: PhaseCommand, phase: Phase, _ failures: [GateFailure],
                details: [String: JSONValue] = [:]) -> BellowsError {
        var all = details
        all["failures"] = .array(failures.map { ["gate": .string($0.gate), "message": .string($0.message), "remedy": .optional($0.remedy)] })
        recordQuietly(connection, plan: plan, command: command, from: phase, outcome: "refused", details: all)
        return .refused(Refusal(plan: plan.id, command: command, phase: phase, failures: failures))
    }

    func recordQuietly(_ connection: Connection, plan: Plan, command: PhaseCommand, from: Phase, outcome: String, details: [String: JSONValue]) {
        if connection.inTransaction { _ = try? connection.execute("ROLLBACK") }
        _ = try? StateStore.record(connection, plan: plan.id, actor: options.actor, command: command.rawValue,
                                   from: from, to: nil, outcome: outcome, details: details)
    }

    func record(_ connection: Connection, plan: Plan, command: PhaseCommand, from: Phase, to: Phase, details: [String: JSONValue]) throws {
        try StateStore.record(connection, plan: plan.id, actor: options.actor, command: command.rawValue,
                              from: from, to: to, outcome: "succeeded", details: details)
    }

    /// Runs `work`, turning a PostgreSQL error into a failure that names the step. A stop
    /// requested before the step begins ends the phase there.
    func step<T>(_ purpose: String, _ work: () throws -> T) throws -> T {
        if options.shouldStop() { throw StopRequested() }
        do { return try work() } catch let error as PostgresError { throw PhaseFailure(purpose: purpose, error: error) }
    }

    /// A phase stopped by a signal, or whose connection was lost (`pg_terminate_backend`, a
    /// restart): what it had not committed is rolled back, the stop is recorded (on a fresh
    /// connection when this one is gone) and the same command resumes.
    func stopped(plan: Plan, command: PhaseCommand, from phase: Phase, connection: Connection, because error: PostgresError?) -> BellowsError {
        let signalled = options.shouldStop()
        let reason = signalled ? "stopped by a signal" : "the connection to PostgreSQL was lost" + (error.map { ": \($0.message)" } ?? "")
        let details: [String: JSONValue] = ["reason": .string(reason), "error": .optional(error?.message),
                                            "sqlstate": .optional(error?.sqlState?.rawValue)]
        if connection.isOpen {
            recordQuietly(connection, plan: plan, command: command, from: phase, outcome: "interrupted", details: details)
        } else if let fresh = try? Connection(options.conninfo) {
            recordQuietly(fresh, plan: plan, command: command, from: phase, outcome: "interrupted", details: details)
            fresh.close()
        }
        return .stopped(plan: plan.id, command: command, reason: reason, resume: "bellows \(command.rawValue) \(plan.id)")
    }

    func announce(_ plan: Plan, _ command: PhaseCommand, _ statement: PhaseStatement) {
        report(.step(plan: plan.id, command: command, purpose: statement.purpose, sql: statement.sql))
    }

    /// The plan resolved against the table as it was before expand (stored at expand), or as it
    /// is now. With the search_path expand kept, the session is pinned to it: the plan's
    /// expressions and checks mean in every phase what they meant when the plan was expanded.
    func transition(for plan: Plan, connection: Connection, storedOnly: Bool) throws -> Transition {
        var table = try StateStore.storedTable(connection, id: plan.id)
        let stored = try connection.query("SELECT search_path, not_null_shape, pinned_settings FROM bellows.plans WHERE id = $1", [plan.id]).first
        if table == nil && !storedOnly { table = try CatalogReader.table(connection, plan.table.value) }
        let compiled = TransitionCompiler.compile(plan, table: table)
        guard var transition = compiled.transition else { throw BellowsError.planInvalid(compiled.findings) }
        // The shape expand recorded wins over the server's version now (an upgrade mid-transition).
        transition.notNullShape = NotNullShape(recorded: try stored?.optionalString("not_null_shape"))
        if let kept = try stored?.raw("pinned_settings") {
            transition.pinnedValues = Self.pinnedValues(PostgresArray.parse(kept).compactMap { $0 })
        }
        if let path = try stored?.raw("search_path") {
            transition.searchPath = PostgresArray.parse(path).compactMap { $0 }
            try pinSearchPath(transition, connection: connection)
        }
        transition.typesWithoutEquality = try CatalogReader.typesWithoutEquality(connection, transition.comparedTypes)
        transition.volatileFunctions = try CatalogReader.volatileFunctions(connection, transition.calledFunctions)
        return transition
    }

    /// Sets the session's search_path to the plan's pinned one (`PhaseSQL.searchPath`).
    /// Once expand kept them, the settings the trigger's function keeps (`PhaseSQL.pinnedSettings`,
    /// `Transition.pinnedValues`; a function made before they were kept in the state has them
    /// in its `SET` clauses) are this session's too: backfill and verify compute what the
    /// trigger computes for every writer.
    func pinSearchPath(_ transition: Transition, connection: Connection) throws {
        let sql = PhaseSQL(transition)
        try connection.execute("SET search_path = \(sql.searchPath)")
        for (name, value) in (transition.pinnedValues ?? [:]).sorted(by: { $0.key < $1.key })
        where PhaseSQL.pinnableSettings.contains(name) {
            _ = try connection.query("SELECT set_config($1, $2, false)", [name, value])
        }
        for row in try connection.query("""
            SELECT split_part(c, '=', 1) AS name, substr(c, strpos(c, '=') + 1) AS value
            FROM pg_proc p, unnest(p.proconfig) AS c WHERE p.oid = to_regprocedure($1)
            """, [sql.qualifiedFunction + "()"]) {
            let name = try row.string("name")
            guard PhaseSQL.pinnableSettings.contains(name.lowercased()) else { continue }
            _ = try connection.query("SELECT set_config($1, $2, false)", [name, try row.string("value")])
        }
    }

    /// A setting the trigger's function keeps (`PhaseSQL.pinnedSettings`), as this session has it.
    struct KeptSetting {
        var name: String
        var value: String
        /// `pg_settings.source`: `client` (PGTZ, PGOPTIONS, the connection string), `user` or
        /// `database user` (ALTER ROLE … SET), `session` (taken from the trigger's function when
        /// expand resumes), or the server's own.
        var source: String

        /// Whether the operator's connection chose the value, rather than the server's or the
        /// database's configuration the application's sessions share (hostile-f 07).
        var chosenByThisSession: Bool { ["client", "user", "database user"].contains(source) }

        var origin: String {
            switch source {
            case "client": "set by the client: PGTZ, PGDATESTYLE, PGOPTIONS or the connection string's options"
            default: "a setting of the connecting role: ALTER ROLE … SET"
            }
        }
    }

    /// This session's values of the settings `transition`'s trigger pins, as expand keeps them
    /// (`current_setting`, the text `set_config` takes back).
    func sessionPinnedValues(_ transition: Transition, connection: Connection) throws -> [String: String]? {
        let names = PhaseSQL(transition).pinnedSettings
        guard !names.isEmpty else { return nil }
        var values: [String: String] = [:]
        for row in try connection.query("SELECT n AS name, current_setting(n) AS value FROM unnest($1::text[]) AS n", [PostgresArray.literal(names)]) {
            values[try row.string("name")] = try row.string("value")
        }
        return values
    }

    /// The kept values from the plan's state (`name=value`, as `proconfig` has them).
    static func pinnedValues(_ entries: [String]) -> [String: String] {
        var values: [String: String] = [:]
        for entry in entries {
            guard let equals = entry.firstIndex(of: "=") else { continue }
            values[String(entry[..<equals])] = String(entry[entry.index(after: equals)...])
        }
        return values
    }

    /// The settings expand keeps for `transition`'s trigger, with this session's values.
    func keptSettings(_ transition: Transition, connection: Connection) throws -> [KeptSetting] {
        // The trigger may keep none (`Transition.settingsIndependent`) while the phases keep them.
        let names = transition.pinnedValues.map { Array($0.keys).sorted() } ?? PhaseSQL(transition).pinnedSettings
        guard !names.isEmpty else { return [] }
        return try connection.query("SELECT name, setting, source FROM pg_settings WHERE lower(name) = ANY($1::text[]) ORDER BY name",
                                    [PostgresArray.literal(names)]).map {
            KeptSetting(name: try $0.string("name"), value: try $0.string("setting"), source: try $0.string("source"))
        }
    }

    /// The schemas this session resolves names in, as expand keeps them for the plan.
    func sessionSearchPath(_ connection: Connection) throws -> [String] {
        try connection.query("SELECT current_schemas(false) AS schemas").first?.stringArray("schemas") ?? []
    }
}

/// A statement of a phase failed; carries which step it was.
struct PhaseFailure: Error {
    var purpose: String
    var error: PostgresError
}
