import CBuildInfo

/// What `bellows --version` prints: the release and the commit it was built from.
public enum BuildInfo {
    /// The release number; raised when a release is cut.
    public static let version = "0.1.0"

    /// The git commit (`git describe --always --dirty`) scripts/install built, nil for a plain
    /// `swift build`, which does not pass one.
    public static var commit: String? {
        let commit = String(cString: bellows_build_commit())
        return commit.isEmpty ? nil : commit
    }

    /// `bellows 0.1.0 (commit 4b7542d)`, or `(commit unknown: not built by scripts/install)`.
    public static var versionLine: String {
        "bellows \(version) (commit \(commit ?? "unknown: not built by scripts/install"))"
    }
}
