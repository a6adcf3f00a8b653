import BellowsPlan
import BellowsSQL
import Foundation
import PGClient

/// A plan as the state table holds it and as its file says now.
public struct StoredPlanComparison: Sendable {
    /// The plan as expanded, loaded from the stored text (under the path it was read from).
    public var expanded: Plan
    /// The plan file as it is now; nil when it is gone.
    public var current: Plan?
    /// nil when the file is gone.
    public var revision: PlanRevision?
    public var phase: Phase

    /// How the plan file stands against the text expand stored, in words.
    public var summary: String {
        guard let current, let revision else {
            return "the plan file \(expanded.file) is missing; the plan as expanded is stored in the database"
        }
        switch revision.verdict {
        case .identical: return "\(current.file) is as it was expanded"
        case .cosmetic: return "\(current.file) changed since expand (comments/formatting only)"
        case .changed:
            return "\(current.file) changed since expand, and the change matters (\(revision.lines.count == 1 ? "1 line" : "\(revision.lines.count) lines")):\n"
                + revision.lines.map { "    " + $0 }.joined(separator: "\n")
        }
    }
}

extension Engine {
    /// The plan `reference` names: its file, or, when no file matches, a plan of the state table
    /// whose stored text is loaded instead (a deleted file can still be rolled back). The state
    /// table's id or sequence number is matched as `resolvePlan` matches file stems.
    ///
    /// For a rollback, a file that does not load (a YAML error, a typo'd key after expand) is
    /// no obstacle either: the stored text is rolled back, and the file's errors are reported
    /// (hostile-d 10: "rollback always works from the stored text").
    func resolvePlan(_ reference: String, connection: Connection, forRollback: Bool = false) throws -> Plan {
        do {
            return try project.resolvePlan(reference)
        } catch let error as BellowsError {
            if forRollback, case .planInvalid(let findings) = error, let path = try? project.planPath(reference) {
                let id = Project.planID(ofFile: path)
                let state: PlanState?
                do { state = try StateStore.plan(connection, id: id) } catch let e as PostgresError { throw BellowsError.database(e) }
                guard let state, let stored = Self.storedPlan(state) else { throw error }
                let first = findings.first { $0.severity == .error }
                report(.info("warning: \(path) does not load" + (first.map { " (\($0.line):\($0.column): \($0.message))" } ?? "")
                             + "; rolling back the plan as expanded, from the text stored in the database"))
                return stored
            }
            guard case .usage = error else { throw error }
            let states: [PlanState]
            do { states = try StateStore.allPlans(connection) } catch let e as PostgresError { throw BellowsError.database(e) }
            let withText = states.filter { $0.planText != nil }
            guard project.exists, let id = Self.match(reference, in: withText.map(\.id)),
                  let state = withText.first(where: { $0.id == id }), let stored = Self.storedPlan(state),
                  !FileManager.default.fileExists(atPath: stored.file) else { throw error }
            return stored
        }
    }

    /// A plan named other than by its file's path needs a project, said before connecting.
    func requireProject(for reference: String) throws {
        if !FileManager.default.fileExists(atPath: reference) { try project.requireExists() }
    }

    /// The plan as expanded, loaded from the state row's text; nil when no text is stored.
    static func storedPlan(_ state: PlanState) -> Plan? {
        guard let text = state.planText else { return nil }
        let path = state.planPath ?? "plans/\(state.id).yaml"
        guard var plan = PlanLoader.load(file: path, source: text).plan else { return nil }
        // The text expand read is the plan with the checksum expand recorded (approvals are bound to it).
        plan.checksum = state.expandChecksum ?? plan.checksum
        return plan
    }

    /// Compares the stored text of an expanded (or expanding) plan with its file; nil when the
    /// state row has no stored text. `plan` is the file's plan, or the stored one when the file is gone.
    func compareWithStored(_ plan: Plan, state: PlanState, connection: Connection) throws -> StoredPlanComparison? {
        guard let expanded = Self.storedPlan(state) else { return nil }
        let fileGone = !FileManager.default.fileExists(atPath: plan.file)
        if fileGone { return StoredPlanComparison(expanded: expanded, current: nil, revision: nil, phase: state.phase) }
        let table = try StateStore.storedTable(connection, id: state.id)
        let revision = PlanRevision.compare(expanded: expanded, current: plan, table: table, searchPath: state.searchPath)
        return StoredPlanComparison(expanded: expanded, current: plan, revision: revision, phase: state.phase)
    }

    /// The plan a command that continues an expanded plan works with: the text stored at
    /// expand. Rollback always uses it (it removes what that text added); a forward phase
    /// uses it when the file says the same (identical, or only comments, formatting,
    /// descriptions changed) and is refused, with what changed, when it does not or is gone.
    func planAsExpanded(_ plan: Plan, state: PlanState, command: PhaseCommand, connection: Connection) throws -> Plan {
        let continuing = state.expanding || [.expanded, .backfilled, .verified].contains(state.phase)
        guard continuing, command != .expand || state.expanding else { return plan }
        let comparison: StoredPlanComparison?
        do { comparison = try compareWithStored(plan, state: state, connection: connection) } catch let e as PostgresError { throw BellowsError.database(e) }
        guard let comparison else { return plan }
        let verdict = comparison.revision?.verdict
        if verdict == .identical { return comparison.expanded }
        if command == .rollback {
            report(.info(comparison.summary + "; rollback removes what the plan as expanded added (the stored text)"))
            return comparison.expanded
        }
        if verdict == .cosmetic {
            report(.info(comparison.summary + "; using the text as expanded"))
            return comparison.expanded
        }
        let failure = comparison.current == nil
            ? GateFailure(gate: "plan-file", message: comparison.summary,
                          remedy: "restore the file (`bellows diff \(plan.id)` prints the stored text), or `bellows rollback \(plan.id)`")
            : GateFailure(gate: "plan-changed", message: comparison.summary,
                          remedy: "restore the file as expanded (`bellows diff \(plan.id)` shows the difference), or `bellows rollback \(plan.id)` and expand the new plan")
        throw refuse(connection, plan: plan, command: command, phase: state.phase, [failure])
    }
}

/// `bellows diff PLAN`: the plan file against the text expand stored.
public struct PlanDiff: Sendable, Codable {
    public var plan: String
    public var phase: Phase
    /// Where the stored text was read from at expand.
    public var expandedPath: String
    /// The plan file now; nil when it is gone.
    public var file: String?
    /// `identical`, `cosmetic` (the same transition), `changed`, `missing` (no file), or
    /// `unreadable` (the file does not load: `loadErrors` says why).
    public var verdict: String
    /// What changed that matters (columns, expressions, constraints, checks, gates, backfill settings).
    public var differences: [PlanRevision.Difference]
    /// Phases whose rendered SQL differs.
    public var phasesWithOtherSQL: [PhaseCommand]
    /// The text's changed lines: `-N: line` as expanded, `+N: line` in the file now.
    public var textLines: [String]
    /// Why the file does not load (verdict `unreadable`); empty otherwise.
    public var loadErrors: [String] = []

    public var isSame: Bool { verdict == PlanRevision.Verdict.identical.rawValue }

    enum CodingKeys: String, CodingKey {
        case plan, phase, file, verdict, differences
        case expandedPath = "expanded_path", phasesWithOtherSQL = "phases_with_other_sql", textLines = "text_lines", loadErrors = "load_errors"
    }

    /// Line-by-line difference of two texts, as `-N:`/`+N:` lines in order of position.
    static func textDifference(_ old: String, _ new: String?) -> [String] {
        let before = old.components(separatedBy: "\n")
        guard let new else { return before.enumerated().map { "-\($0.offset + 1): \($0.element)" } }
        let after = new.components(separatedBy: "\n")
        var lines: [(position: Int, order: Int, text: String)] = []
        for change in after.difference(from: before) {
            switch change {
            case .remove(let offset, let line, _): lines.append((offset, 0, "-\(offset + 1): \(line)"))
            case .insert(let offset, let line, _): lines.append((offset, 1, "+\(offset + 1): \(line)"))
            }
        }
        return lines.sorted { ($0.position, $0.order) < ($1.position, $1.order) }.map(\.text)
    }
}

extension Engine {
    /// The plan file against the text its expand stored. A usage error when no text is stored.
    public func diff(plan reference: String) throws -> PlanDiff {
        try requireProject(for: reference)
        let connection = try connect()
        defer { connection.close() }
        do {
            let plan: Plan
            do {
                plan = try resolvePlan(reference, connection: connection)
            } catch BellowsError.planInvalid(let findings) {
                // A file that does not load is a difference too (hostile-d 10), with its errors.
                let path = try project.planPath(reference)
                guard let state = try StateStore.plan(connection, id: Project.planID(ofFile: path)), let expanded = Self.storedPlan(state) else {
                    throw BellowsError.planInvalid(findings)
                }
                let source = try? String(contentsOfFile: path, encoding: .utf8)
                return PlanDiff(plan: state.id, phase: state.phase, expandedPath: expanded.file, file: path, verdict: "unreadable",
                                differences: [], phasesWithOtherSQL: [],
                                textLines: PlanDiff.textDifference(expanded.source, source),
                                loadErrors: findings.filter { $0.severity == .error }.map { "\($0.file):\($0.line):\($0.column): \($0.message) [\($0.rule)]" })
            }
            guard let state = try StateStore.plan(connection, id: plan.id),
                  let comparison = try compareWithStored(plan, state: state, connection: connection) else {
                throw BellowsError.usage("plan \(plan.id) has no stored text to compare with: it was never expanded on this database (or before Bellows kept the expanded text)")
            }
            let revision = comparison.revision
            return PlanDiff(plan: plan.id, phase: state.phase, expandedPath: comparison.expanded.file, file: comparison.current?.file,
                            verdict: revision?.verdict.rawValue ?? "missing", differences: revision?.differences ?? [],
                            phasesWithOtherSQL: revision?.phasesWithOtherSQL ?? [],
                            textLines: PlanDiff.textDifference(comparison.expanded.source, comparison.current?.source))
        } catch let error as PostgresError {
            throw BellowsError.database(error)
        }
    }
}
