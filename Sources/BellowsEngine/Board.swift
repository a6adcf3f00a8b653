import BellowsPlan
import BellowsSQL
import Foundation
import PGClient

/// What `advance` did: the phases that ran, in order, the plan's phase at the end, and the
/// refusal or failure that stopped it, if any. No outcomes and no error: nothing to do.
public struct AdvanceResult: Sendable {
    public var plan: String
    public var outcomes: [PhaseOutcome] = []
    public var phase: Phase = .planned
    public var stoppedBy: BellowsError?

    public init(plan: String) { self.plan = plan }
}

/// One line of the release manager's board.
public struct PlanStatus: Sendable {
    public var id: String
    public var table: String
    public var phase: Phase
    public var expanding: Bool
    public var backfillRows: Int
    public var verifiedAt: Date?
    public var updatedAt: Date?
    /// The command that moves the plan on, nil when contracted.
    public var next: String?
    /// What stops `next` from running now.
    public var blockers: [GateFailure]
    public var fileMissing: Bool
    /// The plan file another project's `plans/` expanded it from (projects sharing the
    /// database): not this project's plan, nil otherwise.
    public var otherProject: String? = nil
    /// Whether the database has a row for the plan (false: no command has run it there yet).
    public var recorded: Bool = true
    /// A pause or throttle in force (`bellows pause`, `throttle`), nil when none.
    public var control: BackfillControl? = nil
    /// The planner's estimate of the table's rows (`pg_class.reltuples`), nil when the table is
    /// not there or was never analysed.
    public var estimatedRows: Int? = nil
    /// A contracted plan's declared foreign keys whose `VALIDATE` after contract's commit did
    /// not finish (hostile-d 19): `next` is then `bellows contract PLAN`, which runs it.
    public var unvalidated: [String] = []
    /// The `search_path` of each version whose schema of views exists (docs/versions.md): both
    /// while the plan is in flight, the new one after contract until the next plan on the table.
    public var searchPaths: [SchemaVersion: String] = [:]
    /// The backfill against the plan's latest `bellows estimate` (nil: never estimated on this database).
    public var estimate: EstimateComparison? = nil
    /// `rename_table_to`: the table's new name (a view over the table from expand to contract).
    public var renamedTo: String? = nil
    /// A plan in flight: the replaced columns whose column privileges changed since they were
    /// last given to their replacements (which the new version's view reads); the next phase
    /// gives them (hostile-g 06). Nil when none.
    public var columnPrivilegesDiffer: [String]? = nil
    /// A verified plan whose contract was interrupted while it made the archive (hostile-h 15):
    /// the archive's trigger it left on the table, which the next contract or a rollback
    /// removes. Nil when none.
    public var unfinishedArchiveTrigger: String? = nil

    /// How far the backfill is, 0…1: 1 once backfilled, rows updated over the estimate while
    /// expanded, 0 before (pure).
    public var backfillFraction: Double {
        switch phase {
        case .backfilled, .verified, .contracted: return 1
        case .expanded:
            guard let estimatedRows, estimatedRows > 0 else { return 0 }
            return min(1, Double(backfillRows) / Double(estimatedRows))
        case .planned, .rolledBack: return 0
        }
    }
}

extension Engine {
    /// Every plan of the project and of the state table, its phase, and what blocks it. Reads
    /// only: on a database without the `bellows` schema every plan is planned, and the schema is
    /// not created.
    public func status() throws -> [PlanStatus] {
        try project.requireExists()
        let (connection, hasState) = try connectForReading()
        defer { connection.close() }
        do {
            let states = hasState ? try StateStore.allPlans(connection) : []
            let controls = hasState ? try StateStore.controls(connection).filter { $0.value.isActive } : [:]
            let all = project.loadPlans()
            // A file with errors is no plan to move on: its first error is its line's blocker.
            let failing = Set(all.findings.filter { $0.severity == .error }.map(\.file))
            let loaded = (plans: all.plans.filter { !failing.contains($0.file) }, findings: all.findings)
            var board: [PlanStatus] = []
            for plan in loaded.plans {
                // A plan whose id another plan's row holds has no state of its own (planned).
                let idTaken = states.first(where: { $0.id == plan.id }).flatMap { Self.planIDFailure(plan, state: $0) }
                let state = idTaken == nil ? states.first(where: { $0.id == plan.id }) : nil
                let phase = state?.phase ?? .planned
                let next = PhaseCommand.next(after: phase)
                var blockers: [GateFailure] = idTaken.map { [$0] } ?? []
                if let next {
                    if next == .expand && !(state?.expanding ?? false) {
                        if hasState {
                            blockers += try dependencyFailures(plan, connection: connection)
                            let table = try CatalogReader.table(connection, plan.table.value)
                            blockers += try conflictFailures(plan, table: table, connection: connection)
                            blockers += try tableRenameFailures(plan, table: table, connection: connection)
                        } else {
                            blockers += dependencyFailures(plan, states: [], appliedMigrations: [], baselineApplied: false)
                        }
                    }
                    blockers += manualGateFailures(plan, before: next, connection: hasState ? connection : nil)
                    if let state, next != .expand || state.expanding {
                        if let comparison = try compareWithStored(plan, state: state, connection: connection) {
                            if comparison.revision?.verdict == .changed {
                                blockers.append(GateFailure(gate: "plan-changed", message: "the plan file changed since expand, and the change matters",
                                                            remedy: "`bellows diff \(plan.id)`"))
                            }
                        } else if next == .contract, let expanded = state.expandChecksum, expanded != plan.checksum {
                            blockers.append(GateFailure(gate: "checksum", message: "the plan file changed since expand"))
                        }
                    }
                }
                // The table renamed or moved since expand (hostile-d 25): only rollback follows it.
                var nextCommand = next
                if let state, hasState, state.expanding || [.expanded, .backfilled, .verified].contains(state.phase),
                   let moved = try movedTable(plan, table: plan.table.value, connection: connection) {
                    blockers.append(Self.movedTableFailure(plan, from: plan.table.value, to: moved))
                    nextCommand = .rollback
                }
                // A contracted plan that still owes a validation: contract runs it (hostile-d 19).
                let unvalidated = phase == .contracted ? state?.owedValidations ?? [] : []
                board.append(PlanStatus(
                    id: plan.id, table: plan.table.value.description, phase: phase, expanding: state?.expanding ?? false,
                    backfillRows: state?.backfillRows ?? 0, verifiedAt: state?.verifiedAt, updatedAt: state?.updatedAt,
                    next: (unvalidated.isEmpty ? nextCommand : .contract).map { "bellows \($0.rawValue) \(plan.id)" }, blockers: blockers,
                    fileMissing: false, recorded: state != nil,
                    control: phase == .contracted ? nil : controls[plan.id], unvalidated: unvalidated))
                board[board.count - 1].renamedTo = plan.renameTableTo?.value
            }
            // A file that does not load is named, never left out or called missing (hostile-d 10).
            var unloadable: [String: GateFailure] = [:]
            for file in project.planFiles() where !loaded.plans.contains(where: { $0.file == file }) || failing.contains(file) {
                let first = loaded.findings.first { $0.file == file && $0.severity == .error }
                unloadable[Project.planID(ofFile: file)] = GateFailure(
                    gate: "plan-file", message: "\(file) does not load" + (first.map { ": \($0.line):\($0.column): \($0.message)" } ?? ""),
                    remedy: "`bellows check` shows every error")
            }
            for state in states where !loaded.plans.contains(where: { $0.id == state.id }) {
                // Expanded with its text stored: rollback works without the file, or with one that does not load.
                let problem = unloadable.removeValue(forKey: state.id)
                // Expanded from another directory than this project's plans/: another project's plan
                // (projects sharing the database), not a file this project lost; not its to roll back.
                let elsewhere = problem == nil ? Self.otherProjectFile(state.planPath, plansDirectory: project.plansDirectory) : nil
                let active = state.expanding || [.expanded, .backfilled, .verified].contains(state.phase)
                let next = active && state.planText != nil && elsewhere == nil ? "bellows rollback \(state.id)" : nil
                var line = PlanStatus(id: state.id, table: state.table, phase: state.phase, expanding: state.expanding,
                                      backfillRows: state.backfillRows, verifiedAt: state.verifiedAt, updatedAt: state.updatedAt,
                                      next: next, blockers: problem.map { [$0] } ?? [], fileMissing: problem == nil && elsewhere == nil,
                                      control: state.phase == .contracted ? nil : controls[state.id])
                line.otherProject = elsewhere
                board.append(line)
            }
            for (id, problem) in unloadable {
                board.append(PlanStatus(id: id, table: "?", phase: .planned, expanding: false, backfillRows: 0, verifiedAt: nil, updatedAt: nil,
                                        next: nil, blockers: [problem], fileMissing: false, recorded: false))
            }
            for index in board.indices {
                // A plan's table quoted (a mixed-case name would fold to lower case), else as stored.
                let table = loaded.plans.first { $0.id == board[index].id }?.table.value.quoted ?? board[index].table
                let row = try? connection.query("""
                    SELECT reltuples::bigint AS n FROM pg_class WHERE oid = to_regclass($1) AND reltuples >= 0
                    """, [table]).first
                board[index].estimatedRows = row.flatMap { try? $0.optionalInt("n") } ?? nil
            }
            if hasState {
                for index in board.indices where board[index].recorded {
                    board[index].estimate = try estimateComparison(board[index], connection: connection)
                }
            }
            if hasState {
                for index in board.indices where [.expanded, .backfilled, .verified].contains(board[index].phase) {
                    guard let plan = loaded.plans.first(where: { $0.id == board[index].id }) else { continue }
                    board[index].columnPrivilegesDiffer = try columnPrivilegeDrift(plan, connection: connection)
                }
                for index in board.indices where board[index].phase == .verified {
                    guard let plan = loaded.plans.first(where: { $0.id == board[index].id }) else { continue }
                    let present = try connection.query("SELECT tgname::text AS name FROM pg_trigger WHERE tgrelid = to_regclass($1) AND tgname IN ($2, $3)",
                                                       [plan.table.value.quoted, ArchiveSQL.triggerName(planID: plan.id),
                                                        ArchiveSQL.legacyTriggerName(planID: plan.id)]).first
                    board[index].unfinishedArchiveTrigger = try present?.string("name")
                }
            }
            let paths = try Self.versionSearchPaths(of: board.map(\.id), connection: connection)
            for index in board.indices { board[index].searchPaths = paths[board[index].id] ?? [:] }
            return board.sorted { $0.id < $1.id }
        } catch let error as PostgresError {
            throw BellowsError.database(error)
        }
    }

    /// The replaced columns of a plan in flight whose replacement's column grants differ from
    /// theirs now (a column GRANT or REVOKE since the last phase), from the table expand
    /// stored; nil when none. Read-only.
    func columnPrivilegeDrift(_ plan: Plan, connection: Connection) throws -> [String]? {
        guard plan.moveColumns == nil, let table = try StateStore.storedTable(connection, id: plan.id),
              let transition = TransitionCompiler.compile(plan, table: table).transition, !transition.replacedColumns.isEmpty,
              let oid = try connection.query("SELECT to_regclass($1)::oid::bigint AS oid", [transition.quotedTable]).first?.optionalInt("oid")
        else { return nil }
        let grants = try CatalogReader.columnGrants(connection, oid: oid)
        let differing = transition.replacedColumns.filter { Set(grants[$0.new] ?? []) != Set(grants[$0.old] ?? []) }.map(\.old)
        return differing.isEmpty ? nil : differing
    }

    /// The plan's latest estimate (an `estimate` event) against its backfill: the running run
    /// (`backfill_started_at`, absent from a state schema older than estimates) while expanded,
    /// the last finished run since the estimate afterwards. Nil when never estimated.
    func estimateComparison(_ line: PlanStatus, connection: Connection) throws -> EstimateComparison? {
        guard let row = try connection.query("""
            SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS at, coalesce(details->>'source', 'none') AS source,
                   coalesce((details->>'rows')::bigint, 0) AS rows, (details->>'seconds')::float8 AS seconds,
                   (details->>'rows_per_second')::float8 AS rate
            FROM bellows.events WHERE plan_id = $1 AND command = 'estimate' AND outcome = 'succeeded' ORDER BY id DESC LIMIT 1
            """, [line.id]).first else { return nil }
        let recorded = EstimateComparison.Recorded(at: try row.string("at"), source: try row.string("source"), rows: try row.int("rows"),
                                                   seconds: try row.optionalDouble("seconds"), rowsPerSecond: try row.optionalDouble("rate"))
        var running: EstimateComparison.Run?
        var finished: EstimateComparison.Run?
        if line.phase == .expanded {
            let kept = try connection.query("""
                SELECT count(*) AS n FROM pg_attribute WHERE attrelid = 'bellows.plans'::regclass AND attname = 'backfill_started_at' AND NOT attisdropped
                """).first?.int("n") == 1
            if kept, let run = try connection.query("""
                SELECT backfill_rows - coalesce(backfill_rows_at_start, 0) AS rows, backfill_rows AS done,
                       extract(epoch FROM updated_at - backfill_started_at)::float8 AS seconds
                FROM bellows.plans WHERE id = $1 AND backfill_started_at IS NOT NULL
                """, [line.id]).first {
                running = EstimateComparison.Run(rows: try run.int("rows"), seconds: try run.double("seconds"), done: try run.int("done"))
            }
        } else if [.backfilled, .verified, .contracted].contains(line.phase), let run = try connection.query("""
            SELECT (details->>'rows_scanned_this_run')::bigint AS rows, (details->>'seconds')::float8 AS seconds
            FROM bellows.events
            WHERE plan_id = $1 AND command = 'backfill' AND outcome = 'succeeded' AND id > $2
              AND details ? 'rows_scanned_this_run' AND NOT coalesce((details->>'rescan')::boolean, false)
            ORDER BY id DESC LIMIT 1
            """, [line.id, try row.int("id")]).first {
            finished = EstimateComparison.Run(rows: try run.int("rows"), seconds: try run.double("seconds"))
        }
        return EstimateComparison.compare(estimate: recorded, running: running, finished: finished)
    }

    /// `stored` (the plan file expand ran, as it named it; a relative one from the working
    /// directory) when it lies outside `plansDirectory`, nil when inside or unknown.
    static func otherProjectFile(_ stored: String?, plansDirectory: String) -> String? {
        guard let stored, !stored.isEmpty else { return nil }
        func standard(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path }
        return standard((stored as NSString).deletingLastPathComponent) == standard(plansDirectory) ? nil : standard(stored)
    }

    /// The audit log, for one plan or all.
    /// Reads only: a database without the `bellows` schema has no events, and gets no schema.
    public func history(plan reference: String?) throws -> [PlanEvent] {
        if let reference { try requireProject(for: reference) }
        let (connection, hasState) = try connectForReading()
        defer { connection.close() }
        // The plan's id from its file's name, or a stored plan's id: the file is never loaded
        // (one that does not load still has its audit trail, hostile-d 10).
        var id: String?
        if let reference {
            do { id = Project.planID(ofFile: try project.planPath(reference)) } catch let error as BellowsError {
                let ids = hasState ? try StateStore.allPlans(connection).map(\.id) : []
                guard let match = Self.match(reference, in: ids) else { throw error }
                id = match
            }
        }
        guard hasState else { return [] }
        do { return try StateStore.events(connection, plan: id) } catch let error as PostgresError { throw BellowsError.database(error) }
    }

    /// Records a release manager's approval of a manual gate for the plan as it is now.
    public func approve(plan reference: String, gate: String) throws {
        let plan = try project.resolvePlan(reference)
        if let unknown = plan.unknownGateMessage(gate) { throw BellowsError.usage(unknown) }
        let connection = try connect()
        defer { connection.close() }
        do {
            let state = try StateStore.register(connection, plan: plan)
            // After an edit that changes nothing that matters, the phases go on with the text as
            // expanded: the approval holds for it too.
            var checksums = [plan.checksum]
            if let comparison = try compareWithStored(plan, state: state, connection: connection),
               comparison.revision?.verdict == .cosmetic, [.expanded, .backfilled, .verified].contains(state.phase) {
                checksums.append(comparison.expanded.checksum)
            }
            try connection.withTransaction {
                for checksum in checksums {
                    try connection.execute("INSERT INTO bellows.approvals (plan_id, gate, checksum, actor) VALUES ($1, $2, $3, \(StateStore.actorSQL(4))) ON CONFLICT DO NOTHING",
                                           [plan.id, gate, checksum, options.actor])
                }
                try StateStore.record(connection, plan: plan.id, actor: options.actor, command: "approve", from: state.phase, to: nil,
                                      outcome: "approved", details: ["gate": .string(gate)])
            }
        } catch let error as PostgresError {
            throw BellowsError.database(error)
        }
    }

    /// Runs the next phases until `through` (default: just the next one), stopping at the
    /// first refusal. `through` is an upper bound: a plan already at or past it runs nothing.
    public func advance(plan reference: String, through: PhaseCommand?) throws -> AdvanceResult {
        let plan = try project.resolvePlan(reference)
        let connection = try connect()
        defer { connection.close() }
        var result = AdvanceResult(plan: plan.id)
        while true {
            let state: PlanState
            do { state = try StateStore.register(connection, plan: plan) } catch let e as PostgresError { throw BellowsError.database(e) }
            result.phase = state.phase
            guard let next = PhaseCommand.next(after: state.phase, expanding: state.expanding, through: through) else { break }
            do {
                result.outcomes.append(try run(next, plan: plan, connection: connection))
            } catch let error as BellowsError {
                result.stoppedBy = error
                return result
            }
            guard through != nil else { break }
        }
        return result
    }
}
