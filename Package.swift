// swift-tools-version: 6.2
// stagefix: fixtures on a staging server over SSH (libssh2), never on production.
import PackageDescription

/// Release links on Linux, for a small resident set (scripts/rss/README.md): the Swift runtime and
/// Foundation linked in (no symbol binding across a dozen shared libraries at start), relative
/// relocations packed, and the functions a run executes laid out together
/// (scripts/rss/hot-functions.order) so that it maps a few hundred KB of code, not megabytes.
let packageDirectory = String(#filePath.dropLast("Package.swift".count))
let releaseLinkFlags = [
    "-static-stdlib", "-use-ld=lld",
    // What modules compiled for the shared runtime do not name for a static link.
    "-lCoreFoundation", "-l_FoundationICU", "-l_FoundationCShims", "-l_FoundationCollections", "-lswiftSynchronization",
    "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
    "-Xlinker", "--symbol-ordering-file=\(packageDirectory)scripts/rss/hot-functions.order",
    "-Xlinker", "--no-warn-symbol-ordering",
]

let package = Package(
    name: "stagefix",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "stagefix", targets: ["stagefix"]),
        .library(name: "StagefixCore", targets: ["StagefixCore"]),
        .library(name: "SSH", targets: ["SSH"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // The C library, nothing else: a module map over <libssh2.h> and <libssh2_sftp.h>.
        .systemLibrary(
            name: "CLibSSH2",
            pkgConfig: "libssh2",
            providers: [.apt(["libssh2-1-dev"])]
        ),
        // SSH over libssh2: config, host keys, auth, exec, SFTP. Knows nothing of Django.
        .target(
            name: "SSH",
            dependencies: [
                "CLibSSH2",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // stagefix's own logic: config, guard, dotenv, fixtures, playbooks, output.
        .target(
            name: "StagefixCore",
            dependencies: [
                "SSH",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            // The Django runner ships inside the binary (sent to the server on stdin, never installed there).
            resources: [.embedInCode("Runner/stagefix_runner.py")]
        ),
        // Argument parsing and printing only.
        .executableTarget(
            name: "stagefix",
            dependencies: [
                "StagefixCore",
                "SSH",
                "MailCapture",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            linkerSettings: [.unsafeFlags(releaseLinkFlags, .when(platforms: [.linux], configuration: .release))]
        ),
        // A capturing SMTP server for functional tests: accepts every message, stores it in a Maildir.
        .target(
            name: "MailCapture",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "MailCaptureTests",
            dependencies: ["MailCapture"]
        ),
        .testTarget(
            name: "SSHTests",
            dependencies: [
                "SSH",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "StagefixCoreTests",
            dependencies: [
                "StagefixCore",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            exclude: ["Mail/generate_fixtures.py"],
            // Real Django and Python `email` output for the mail parser's tests.
            resources: [.copy("Mail/Fixtures")]
        ),
        // Against the real rig: sshd on loopback (scripts/rig) and, later, a Django site.
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "SSH",
                "StagefixCore",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
    ]
)
