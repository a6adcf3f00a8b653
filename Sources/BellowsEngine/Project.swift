import BellowsPlan
import BellowsSQL
import Foundation

/// A migration file in `migrations/`.
public struct MigrationFileRef: Sendable, Hashable {
    public var name: String   // stem, e.g. 001_initial_schema
    public var number: Int?
    public var path: String
    public var rollbackPath: String?
}

/// The files of a Bellows project: `plans/`, `migrations/` and `bellows.yaml`.
public struct Project: Sendable {
    public var root: String
    public var plansDirectory: String
    public var migrationsDirectory: String

    public init(root: String = ".", plansDirectory: String? = nil, migrationsDirectory: String? = nil) {
        self.root = root
        self.plansDirectory = plansDirectory ?? (root as NSString).appendingPathComponent("plans")
        self.migrationsDirectory = migrationsDirectory ?? (root as NSString).appendingPathComponent("migrations")
    }

    /// Whether this is a Bellows project at all: it has `plans/`, `migrations/` or `bellows.yaml`.
    /// A command run in the wrong directory must say so, not report an empty project as clean.
    public var exists: Bool {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        for directory in [plansDirectory, migrationsDirectory]
        where manager.fileExists(atPath: directory, isDirectory: &isDirectory) && isDirectory.boolValue {
            return true
        }
        return manager.fileExists(atPath: (root as NSString).appendingPathComponent(ProjectConfig.fileName))
    }

    /// What a command that needs plans or migrations says outside a project (exit 2).
    public var notAProjectMessage: String {
        let directory = URL(fileURLWithPath: root).standardizedFileURL.path
        return "no Bellows project in \(directory): it has no plans/, migrations/ or \(ProjectConfig.fileName); "
            + "run the command in the project's directory or name it with --project DIR"
    }

    /// Throws `BellowsError.usage` naming the directory when it is not a project.
    public func requireExists() throws {
        if !exists { throw BellowsError.usage(notAProjectMessage) }
    }

    /// Plan files (`*.yaml`, `*.yml`) in the plans directory, sorted by name.
    public func planFiles() -> [String] {
        Self.files(in: plansDirectory, extensions: ["yaml", "yml"])
    }

    public func migrationFiles() -> [MigrationFileRef] {
        let rollbackDirectory = (migrationsDirectory as NSString).appendingPathComponent("rollback")
        return Self.files(in: migrationsDirectory, extensions: ["sql"]).map { path in
            let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
            let rollback = (rollbackDirectory as NSString).appendingPathComponent(stem + ".sql")
            return MigrationFileRef(name: stem, number: PlanNaming.sequenceNumber(of: stem), path: path,
                                    rollbackPath: FileManager.default.fileExists(atPath: rollback) ? rollback : nil)
        }
    }

    /// Plans the baseline migration records as contracted on the database before it was
    /// captured (its `-- Contracted Plans:` header): the baseline already holds their changes,
    /// so `check` does not validate them against it and `rehearse` does not run them again.
    public func contractedBeforeBaseline() -> Set<String> {
        let path = (migrationsDirectory as NSString).appendingPathComponent(MigrationRunner.baselineName + ".sql")
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else { return [] }
        return Set(MigrationFile.parseHeader(text).contractedPlans)
    }

    static func files(in directory: String, extensions: Set<String>) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        return names.filter { extensions.contains(($0 as NSString).pathExtension.lowercased()) }
            .sorted()
            .map { (directory as NSString).appendingPathComponent($0) }
    }

    /// Loads every plan, all findings together.
    public func loadPlans() -> (plans: [Plan], findings: [Finding]) {
        var plans: [Plan] = []
        var findings: [Finding] = []
        for file in planFiles() {
            let result = PlanLoader.load(path: file)
            findings += result.findings
            if let plan = result.plan { plans.append(plan) }
        }
        return (plans, findings)
    }

    /// The plan file a reference names (a path, a file stem or a sequence number), not loaded.
    public func planPath(_ reference: String) throws -> String {
        let path: String
        if FileManager.default.fileExists(atPath: reference), reference.hasSuffix(".yaml") || reference.hasSuffix(".yml") {
            path = reference
        } else {
            try requireExists()
            let candidates = planFiles().filter { file in
                let stem = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
                if stem == reference { return true }
                if let number = Int(reference), let own = PlanNaming.sequenceNumber(of: stem) { return number == own }
                return false
            }
            guard candidates.count == 1, let only = candidates.first else {
                let known = planFiles().map { ((($0 as NSString).lastPathComponent) as NSString).deletingPathExtension }
                throw BellowsError.usage(candidates.isEmpty
                    ? "no plan \"\(reference)\" in \(plansDirectory)" + (known.isEmpty ? "" : " (plans: \(known.joined(separator: ", ")))")
                    : "\"\(reference)\" matches several plans: \(candidates.joined(separator: ", "))")
            }
            path = only
        }
        return path
    }

    /// A plan file's id: its name without the extension.
    public static func planID(ofFile path: String) -> String {
        ((path as NSString).lastPathComponent as NSString).deletingPathExtension
    }

    /// Finds a plan by path, file stem, or sequence number (`001`, `1`).
    public func resolvePlan(_ reference: String) throws -> Plan {
        let path = try planPath(reference)
        let result = PlanLoader.load(path: path)
        guard let plan = result.plan, !result.findings.hasErrors else { throw BellowsError.planInvalid(result.findings) }
        return plan
    }
}
