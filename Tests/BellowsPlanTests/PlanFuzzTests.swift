import BellowsSQL
import Foundation
import Testing
@testable import BellowsPlan

/// Random damage to the example plans must never crash or hang the loader, and a file that
/// yields no plan must say why, at a place inside the file.
@Suite struct PlanFuzzTests {
    static let totalMutations = 2_000
    /// Generous for a debug build on a shared machine; a healthy load takes about a millisecond.
    static let maximumSecondsPerLoad = 2.0

    static let garbage: [String] = [
        "\t", "\"", "'", "[", "]", "{", "}", ":", ": ", "- ", "? ", "&a ", "*a", "!!str ", "!custom ", "%YAML 1.2\n", "@", "`",
        "|", ">", "#", "\r", "\r\n", "\u{FEFF}", "\u{0007}", "\u{00A0}", "é", "𝄞", "\u{2028}", "\\", "\\x", "$$", "--", ";",
        ",", "---\n", "...\n", "<<: *a\n", "~", "\n  - ", "\n- ", "\n", "  ", "0x1F", "1e999", "-", "null", "&anchor [1, *anchor]",
    ]
    static let replacementValues = ["[1, 2]", "{a: b}", "42", "-1", "~", "\"\"", "true", "[]", "{}", "|\n  text", "*nope", "!!binary aGk=",
                                    "3.5", "99999999999999999999999", "'x'", "[[[]]]", "- a"]

    /// One random mutation of `text`.
    static func mutate(_ text: String, using rng: inout SplitMix) -> String {
        var lines = text.components(separatedBy: "\n")
        func randomLine() -> Int { Int.random(in: 0..<max(lines.count, 1), using: &rng) }
        guard !lines.isEmpty else { return text }
        switch Int.random(in: 0..<12, using: &rng) {
        case 0: // delete a line
            lines.remove(at: randomLine())
        case 1: // delete a key and everything indented under it
            let keyed = lines.indices.filter { lines[$0].contains(":") && !lines[$0].trimmingCharacters(in: .whitespaces).hasPrefix("#") }
            guard let start = keyed.randomElement(using: &rng) else { break }
            let indent = lines[start].prefix { $0 == " " || $0 == "-" }.count
            var end = start + 1
            while end < lines.count, lines[end].prefix(while: { $0 == " " }).count > indent || lines[end].isEmpty { end += 1 }
            lines.removeSubrange(start..<end)
        case 2: // a scalar becomes a list, a mapping, a number, null…
            let keyed = lines.indices.filter { lines[$0].contains(": ") }
            guard let i = keyed.randomElement(using: &rng), let colon = lines[i].range(of: ": ") else { break }
            lines[i] = String(lines[i][..<colon.upperBound]) + (replacementValues.randomElement(using: &rng) ?? "")
        case 3: // garbage inserted somewhere
            var scalars = Array(text.unicodeScalars)
            let at = Int.random(in: 0...scalars.count, using: &rng)
            let junk = (0..<Int.random(in: 1...4, using: &rng)).map { _ in garbage.randomElement(using: &rng) ?? "" }.joined()
            scalars.insert(contentsOf: junk.unicodeScalars, at: at)
            return String(String.UnicodeScalarView(scalars))
        case 4: // truncated
            let scalars = Array(text.unicodeScalars)
            return String(String.UnicodeScalarView(scalars.prefix(Int.random(in: 0...scalars.count, using: &rng))))
        case 5: // a line twice
            let i = randomLine()
            lines.insert(lines[i], at: i)
        case 6: // two lines swapped
            lines.swapAt(randomLine(), randomLine())
        case 7: // indentation changed
            let i = randomLine()
            if Bool.random(using: &rng) { lines[i] = String(repeating: " ", count: Int.random(in: 1...5, using: &rng)) + lines[i] }
            else { lines[i] = String(lines[i].drop { $0 == " " }) }
        case 8: // deeply nested brackets
            let depth = Int.random(in: 20...300, using: &rng) // deeper: deepNestingIsRefused
            let open = Bool.random(using: &rng) ? "[" : "{a: "
            let close = open == "[" ? "]" : "}"
            let closed = Bool.random(using: &rng)
            lines.insert("deep: " + String(repeating: open, count: depth) + (closed ? String(repeating: close, count: depth) : ""), at: randomLine())
        case 9: // one character replaced
            var scalars = Array(text.unicodeScalars)
            guard !scalars.isEmpty else { break }
            let replacement = (garbage.randomElement(using: &rng) ?? "x").unicodeScalars
            let i = Int.random(in: 0..<scalars.count, using: &rng)
            scalars.replaceSubrange(i..<(i + 1), with: replacement)
            return String(String.UnicodeScalarView(scalars))
        case 10: // a value's quotes broken
            let quoted = lines.indices.filter { lines[$0].contains("\"") }
            guard let i = quoted.randomElement(using: &rng), let q = lines[i].lastIndex(of: "\"") else { break }
            lines[i].remove(at: q)
        default: // a change's kind key renamed
            let i = randomLine()
            lines[i] = lines[i].replacingOccurrences(of: ["alter:", "split:", "table:", "changes:", "up:", "down:"].randomElement(using: &rng) ?? "",
                                                     with: ["altr:", "spilt:", "tabel:", "chnages:", "upp:", "dwn:"].randomElement(using: &rng) ?? "")
        }
        return lines.joined(separator: "\n")
    }

    /// Problems with one load's result; empty when the result is sane.
    static func problems(_ result: PlanLoadResult, source: String) -> [String] {
        let lineCount = source.unicodeScalars.filter { $0 == "\n" }.count + 1
        var problems: [String] = []
        if result.plan == nil && result.findings.isEmpty { problems.append("no plan and no finding") }
        if result.plan != nil && result.findings.hasErrors { problems.append("a plan despite errors") }
        for f in result.findings where f.line < 1 || f.column < 1 || f.line > lineCount + 1 {
            problems.append("finding outside the file (\(lineCount) lines): \(f)")
        }
        return problems
    }

    /// Loads, and when a plan comes back validates, compiles and renders it: nothing may crash.
    static func exercise(_ source: String, file: String) -> (problems: [String], seconds: Double, loaded: Bool) {
        let clock = ContinuousClock()
        var result: PlanLoadResult?
        let elapsed = clock.measure { result = PlanLoader.load(file: file, source: source) }
        guard let result else { return (["no result"], 0, false) }
        if let plan = result.plan {
            _ = PlanValidator.validate(plans: [plan], migrationNames: Repository.migrationNames, catalog: Repository.catalog)
            if let transition = TransitionCompiler.compile(plan, table: Repository.catalog.table(plan.table.value)).transition {
                let sql = PhaseSQL(transition)
                for phase in PhaseCommand.allCases { _ = sql.statements(for: phase) }
            }
        }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return (problems(result, source: source), seconds, result.plan != nil)
    }

    @Test func randomMutationsOfTheExamples() {
        var rng = SplitMix(state: 0x5EED_B311_0005)
        let examples = Repository.examplePlans.map { (name: $0.lastPathComponent, text: Repository.text($0)) }
        #expect(!examples.isEmpty)
        var failures: [String] = []
        var slowest = 0.0
        var withoutPlan = 0
        for n in 0..<Self.totalMutations {
            let example = examples[n % examples.count]
            var text = example.text
            // Usually one mutation, sometimes several stacked.
            for _ in 0..<(Int.random(in: 0..<4, using: &rng) == 0 ? Int.random(in: 2...6, using: &rng) : 1) {
                text = Self.mutate(text, using: &rng)
            }
            let outcome = Self.exercise(text, file: "plans/" + example.name)
            slowest = max(slowest, outcome.seconds)
            if outcome.seconds > Self.maximumSecondsPerLoad { failures.append("#\(n) took \(outcome.seconds) s") }
            if !outcome.loaded { withoutPlan += 1 }
            for problem in outcome.problems where failures.count < 20 {
                failures.append("#\(n) \(example.name): \(problem)\n--- source ---\n\(text)\n---")
            }
        }
        #expect(failures.isEmpty, "\(failures.count) failure(s):\n\(failures.prefix(5).joined(separator: "\n"))")
        // The mutations must actually break plans, or the test proves little.
        #expect(withoutPlan > Self.totalMutations / 3, "only \(withoutPlan) of \(Self.totalMutations) mutations broke the plan")
        #expect(slowest < Self.maximumSecondsPerLoad)
    }

    // MARK: Hostile files

    static func temporaryFile(_ bytes: [UInt8], name: String = "010_hostile.yaml") throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bellows-fuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let url = directory.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    static func remove(_ url: URL) {
        try? FileManager.default.removeItem(at: url.deletingLastPathComponent())
    }

    @Test(arguments: [
        [0xFF, 0xFE, 0x74],                                   // not UTF-8 at all
        Array("table: users\nchanges:\n  - alter: e".utf8) + [0xC3, 0x28] + Array("mail\n".utf8),  // a broken two-byte sequence
        Array("table: users\n".utf8) + [0xED, 0xA0, 0x80],    // an encoded surrogate
        Array("table: users\ndescription: \"".utf8) + [0xF8, 0x88, 0x80, 0x80, 0x80] + Array("\"\n".utf8),
    ] as [[UInt8]])
    func invalidUTF8IsRefusedThroughTheFilePath(_ bytes: [UInt8]) throws {
        let url = try Self.temporaryFile(bytes)
        defer { Self.remove(url) }
        let result = PlanLoader.load(path: url.path)
        #expect(result.plan == nil)
        #expect(summary(result.findings) == ["1:1 plan-yaml-syntax"])
        #expect(result.findings.first?.message.contains("UTF-8") == true)
    }

    @Test func randomBytesThroughTheFilePath() throws {
        var rng = SplitMix(state: 7)
        let base = Array(Repository.text(Repository.examplePlans[0]).utf8)
        for _ in 0..<50 {
            var bytes = base
            for _ in 0..<Int.random(in: 1...8, using: &rng) {
                bytes.insert(UInt8.random(in: 0...255, using: &rng), at: Int.random(in: 0...bytes.count, using: &rng))
            }
            let url = try Self.temporaryFile(bytes)
            defer { Self.remove(url) }
            let result = PlanLoader.load(path: url.path)
            let text = String(decoding: bytes, as: UTF8.self)
            #expect(Self.problems(result, source: text).isEmpty, "\(result.findings)")
        }
    }

    @Test func aNulByteIsRefused() {
        let result = PlanLoader.load(file: "plans/010_x.yaml", source: "table: users\u{0}\nchanges: []\n")
        #expect(result.plan == nil)
        #expect(result.findings.map(\.rule) == ["plan-yaml-syntax"])
    }

    @Test func aHugeFileIsRefusedQuickly() throws {
        // ~2 MiB of otherwise valid YAML: refused by size before any parsing.
        let line = "# " + String(repeating: "padding ", count: 12) + "\n"
        let huge = Repository.text(Repository.examplePlans[0]) + String(repeating: line, count: 2 * 1024 * 1024 / line.utf8.count + 1)
        #expect(huge.utf8.count > 2 * 1024 * 1024)
        let clock = ContinuousClock()
        var result: PlanLoadResult?
        let elapsed = clock.measure { result = PlanLoader.load(file: "plans/010_huge.yaml", source: huge) }
        #expect(result?.plan == nil)
        #expect(result.map { summary($0.findings) } == ["1:1 plan-too-large"])
        #expect(elapsed < .milliseconds(500))

        let url = try Self.temporaryFile(Array(huge.utf8))
        defer { Self.remove(url) }
        let fromDisk = clock.measure { result = PlanLoader.load(path: url.path) }
        #expect(result.map { summary($0.findings) } == ["1:1 plan-too-large"])
        #expect(fromDisk < .milliseconds(500))

        // Too large and not UTF-8: the size is what is reported.
        let binary = try Self.temporaryFile([UInt8](repeating: 0xFF, count: PlanLoader.maximumFileSize + 1))
        defer { Self.remove(binary) }
        #expect(summary(PlanLoader.load(path: binary.path).findings) == ["1:1 plan-too-large"])
    }

    /// The classic billion laughs: nine levels of ten aliases each.
    static func laughs(asKey: Bool) -> String {
        var text = "a0: &a0 [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n"
        for level in 1...9 {
            text += "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]\n"
        }
        text += asKey ? "table: users\nchanges:\n  - ? *a9\n    : boom\n" : "table: users\nchanges: *a9\n"
        return text
    }

    @Test(arguments: [false, true])
    func anAliasBombDoesNotHang(asKey: Bool) {
        let source = Self.laughs(asKey: asKey)
        let outcome = Self.exercise(source, file: "plans/010_laughs.yaml")
        #expect(outcome.problems.isEmpty, "\(outcome.problems)")
        #expect(outcome.seconds < 1, "took \(outcome.seconds) s")
        let result = PlanLoader.load(file: "plans/010_laughs.yaml", source: source)
        #expect(result.plan == nil)
        #expect(result.findings.count < 50, "\(result.findings.count) findings")
    }

    @Test func deepNestingIsRefused() {
        for depth in [100, 999, 1_001, 20_000] {
            let source = "table: users\nchanges: " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "\n"
            let outcome = Self.exercise(source, file: "plans/010_deep.yaml")
            #expect(outcome.problems.isEmpty, "depth \(depth): \(outcome.problems)")
            #expect(PlanLoader.load(file: "plans/010_deep.yaml", source: source).plan == nil)
        }
    }

    @Test(arguments: Repository.examplePlanNames)
    func examplesWithWindowsLineEndingsLoadTheSame(_ name: String) throws {
        let text = Repository.text(Repository.plansDirectory.appendingPathComponent(name + ".yaml"))
        let crlf = text.replacingOccurrences(of: "\n", with: "\r\n")
        let unix = try #require(PlanLoader.load(file: "plans/\(name).yaml", source: text).plan)
        let windows = try #require(PlanLoader.load(file: "plans/\(name).yaml", source: crlf).plan)
        #expect(windows.changes == unix.changes)
        #expect(windows.checks == unix.checks)
        #expect(windows.gates == unix.gates)
        #expect(windows.table == unix.table)
    }

    @Test func aByteOrderMarkIsAccepted() throws {
        let text = "\u{FEFF}" + validPlan
        let plan = try #require(PlanLoader.load(file: "plans/010_bom.yaml", source: text).plan)
        #expect(plan.table.location.line == 1)
    }
}
