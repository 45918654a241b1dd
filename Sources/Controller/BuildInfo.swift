/// The release of this build, printed by `reconciler --version` and sent to AWS in the
/// User-Agent header (so CloudTrail names the tool that acted).
public enum BuildInfo {
    public static let version = "0.19.0"
    public static var userAgent: String { "reconciler/\(version)" }
}
