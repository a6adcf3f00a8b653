import BellowsEngine
import BellowsPlan
import BellowsSQL
import BellowsTestSupport
import Foundation
import Testing

/// Issue 17's corpus: plans written from docs/plans.md alone, on schemas of their own
/// (Tests/Fixtures/corpus/<project>), each project checked (`bellows check`: no error) and
/// rehearsed (`bellows rehearse`: forward under traffic, rolled back from every phase) on a
/// private cluster of its own. Projects run concurrently; seeds and traffic pauses are small
/// so that the suite stays short on each server version CI runs.
/// The corpus takes minutes: `scripts/test` runs it on the last PostgreSQL version of its list
/// only (`BELLOWS_SKIP_CORPUS=1` for the others), so CI stays well under its time budget.
@Suite(.enabled(if: TestDatabase.enabled, "set BELLOWS_SKIP_DB_TESTS=1 only to skip database tests on purpose"),
       .enabled(if: ProcessInfo.processInfo.environment["BELLOWS_SKIP_CORPUS"] != "1", "BELLOWS_SKIP_CORPUS=1: the corpus runs on another version of this scripts/test run"))
struct CorpusTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/corpus").path

    static let projects = ["shop", "telemetry", "ledger", "booking"]

    /// Plans that fail because of a Bellows defect not fixed yet, by plan id: the defect.
    /// Every other plan must pass; a listed one is still run (its violations are known issues).
    static let knownIssues: [String: String] = [:]

    @Test(arguments: projects)
    func everyPlanChecksAndRehearses(_ name: String) throws {
        let project = Project(root: Self.root + "/" + name)
        #expect(project.planFiles().count >= 12, "\(name): \(project.planFiles().count) plans")

        // bellows check: no error (warnings and notes are part of what a user sees, not failures).
        let errors = ProjectCheck.check(project: project).filter { $0.severity == .error }
        #expect(errors.isEmpty, "\(name): \(errors.map(\.description))")

        var options = RehearsalOptions()
        options.rows = 150
        options.batchSize = 50
        options.trafficLeadSeconds = 0.05
        options.trafficTailSeconds = 0.1
        let started = Date()
        let report = try Rehearsal(project: project, options: options).run()
        let seconds = Date().timeIntervalSince(started)

        let ids = project.planFiles().map { (($0 as NSString).lastPathComponent as NSString).deletingPathExtension }
        var byPlan: [String: [String]] = [:]
        var current = "-"
        for violation in report.violations {
            // A violation's continuation lines ("[constraint] …") belong to the plan before them.
            if let id = ids.first(where: { violation.hasPrefix($0 + ":") }) { current = id }
            byPlan[current, default: []].append(violation)
        }
        #expect(byPlan["-"] == nil, "\(name): \(byPlan["-"] ?? [])")
        for id in ids {
            let violations = byPlan[id] ?? []
            if let defect = Self.knownIssues[id] {
                withKnownIssue("\(id): \(defect)", isIntermittent: true) {
                    #expect(violations.isEmpty, "\(violations.prefix(3))")
                }
                continue
            }
            #expect(violations.isEmpty, "\(name)/\(id): \(violations.prefix(5))")
            let ok = report.steps.filter { $0.plan == id && $0.outcome == "ok" }.map(\.phase)
            #expect(ok == ["expand", "backfill", "verify", "contract",
                           "rollback after expand", "rollback after backfill", "rollback after verify"], "\(name)/\(id): \(ok)")
        }
        print("CorpusTests: \(name): \(ids.count) plans rehearsed in \(String(format: "%.1f", seconds)) s")
    }
}
