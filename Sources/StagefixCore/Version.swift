// The version `stagefix --version` prints.
public enum StagefixVersion {
    public static let current = "0.1.0"
}
