// swift-tools-version:6.1
import PackageDescription

// Module layout (pure core, effects at the edges; docs/architecture.md draws the arrows):
//   UTCTime             time: ISO 8601 in UTC, and the Clock port (now, sleep, a bounded poll) every module injects
//   SigV4               pure: AWS Signature Version 4 (swift-crypto only)
//   AWSClient           effects: HTTP over libcurl, credentials, endpoints, protocols, a middleware chain, the typed operations
//   EmulatorHarness     tests and benches: MiniStack and moto on loopback, and the AWS operations only tests use
//   DesiredState        pure: the desired-state model, YAML loading with source locations, validation
//   DesiredStateSources effects: the DesiredStateSource protocol; git (libgit2, on its own thread) and a directory
//   Rendering           pure: SAM templates per (region, feature set), deterministic bytes; DesiredStateCheck
//   Planning            pure: snapshot of the cloud, diff into a plan (typed steps, digest), plan text, drift, status
//   Ports               the ports to the cloud: protocols and their values only
//   AWSAdapters         the ports bound to AWSClient; only Controller's Wiring uses it
//   StateStore          the state port (documents, logs, locks): the local directory, and the shared backend over an object store
//   Engine              effects through the ports: observe, preview, apply (one executor per step kind), drift, layer builds
//   ReleaseGate         effects behind ports: approvals (a pure state machine), one-time passwords, mail, audit log
//   ControllerConfig    pure: controller.conf (TOML) parsing into typed settings
//   Controller          the reconcile cycle over ports, status projection, daemon loop, production wiring
//   OperatorSurface     run's HTTP server, metrics, webhook, dashboard, notifications
//   ReconcilerCommands  the command-line interface: one file per command
//   reconciler          the executable (a thin main)
let package = Package(
    name: "reconciler",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "reconciler", targets: ["reconciler"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", exact: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
        .package(url: "https://github.com/LebJe/TOMLKit", exact: "0.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", exact: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics", exact: "2.13.0"),
        // Only `reconciler run` serves HTTP; the default traits would add swift-configuration.
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1", traits: []),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", exact: "2.1.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibGit2",
            pkgConfig: "libgit2",
            providers: [.apt(["libgit2-dev"])]
        ),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .target(
            name: "DesiredStateSources",
            dependencies: ["CLibGit2", "DesiredState"]
        ),
        .target(
            name: "SigV4",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(
            name: "UTCTime"
        ),
        .target(
            name: "AWSClient",
            dependencies: [
                "SigV4", "CCurl", "UTCTime", .product(name: "Logging", package: "swift-log"), .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        .target(
            name: "EmulatorHarness",
            dependencies: ["AWSClient", "SigV4"]
        ),
        .target(
            name: "DesiredState",
            dependencies: [
                "UTCTime",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "Rendering",
            dependencies: [
                "DesiredState",
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .target(
            name: "Planning",
            dependencies: ["DesiredState", "Rendering", "UTCTime"]
        ),
        .target(
            name: "Ports",
            dependencies: ["Planning", "DesiredState", "Rendering"]
        ),
        .target(
            name: "AWSAdapters",
            dependencies: ["Ports", "AWSClient", "Planning", "DesiredState", "Rendering", "StateStore"]
        ),
        .target(
            name: "StateStore",
            dependencies: ["UTCTime"]
        ),
        .target(
            name: "Engine",
            dependencies: ["Ports", "Planning", "DesiredState", "Rendering", "StateStore", "UTCTime"]
        ),
        .target(
            name: "ReleaseGate",
            dependencies: ["Ports", "Planning", "DesiredState", "StateStore", "UTCTime", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(
            name: "Controller",
            dependencies: [
                "DesiredState", "DesiredStateSources", "Rendering", "Planning", "Ports", "Engine", "ReleaseGate", "StateStore",
                "ControllerConfig", "AWSClient", "AWSAdapters", "UTCTime",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "OperatorSurface",
            dependencies: [
                "Controller", "Planning", "ReleaseGate", "StateStore", "AWSClient", "ControllerConfig", "UTCTime",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "ControllerConfig",
            dependencies: [
                .product(name: "TOMLKit", package: "TOMLKit")
            ]
        ),
        .target(
            name: "ReconcilerCommands",
            dependencies: [
                "Controller",
                "UTCTime",
                "OperatorSurface",
                "ControllerConfig",
                "DesiredState",
                "DesiredStateSources",
                "Rendering",
                "Planning",
                "Ports",
                "Engine",
                "ReleaseGate",
                "StateStore",
                "AWSClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "reconciler",
            dependencies: ["ReconcilerCommands"]
        ),
        .executableTarget(
            name: "bench-render",
            dependencies: ["DesiredState", "DesiredStateSources", "Rendering"],
            path: "bench/render"
        ),
        .executableTarget(
            name: "bench-git",
            dependencies: ["DesiredStateSources", "DesiredState"],
            path: "bench/git"
        ),
        .executableTarget(
            name: "bench-sigv4",
            dependencies: ["SigV4", "AWSClient", "EmulatorHarness"],
            path: "bench/sigv4",
            exclude: ["botocore_bench.py"]
        ),
        // Shared by the test targets: running the reconciler binary and git.
        .target(
            name: "TestSupport",
            dependencies: [.product(name: "Logging", package: "swift-log")],
            path: "Tests/TestSupport"
        ),
        // Shared by the unit tests: the default desired state, a converged account, in-memory ports.
        .target(
            name: "Fixtures",
            dependencies: ["DesiredState", "DesiredStateSources", "Rendering", "Planning", "Ports", "Engine", "ReleaseGate", "StateStore", "UTCTime"],
            path: "Tests/Fixtures"
        ),
        .testTarget(
            name: "DesiredStateTests",
            dependencies: ["DesiredState", "DesiredStateSources"]
        ),
        .testTarget(
            name: "RenderingTests",
            dependencies: ["DesiredState", "DesiredStateSources", "Rendering", "TestSupport", .product(name: "Yams", package: "Yams")],
            exclude: ["Golden"]
        ),
        .testTarget(
            name: "AWSClientTests",
            dependencies: [
                "AWSClient", "SigV4", "UTCTime", "EmulatorHarness", "TestSupport", "Fixtures", .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .testTarget(
            name: "DesiredStateSourcesTests",
            dependencies: ["DesiredStateSources", "DesiredState", "TestSupport"]
        ),
        .testTarget(
            name: "PlanningTests",
            dependencies: ["Planning", "DesiredState", "Rendering", "Fixtures"],
            exclude: ["Golden"]
        ),
        .testTarget(
            name: "EngineTests",
            dependencies: [
                "Engine", "Planning", "Ports", "AWSAdapters", "DesiredState", "DesiredStateSources", "Rendering", "StateStore", "AWSClient", "EmulatorHarness",
                "ReleaseGate", "Controller", "OperatorSurface", "Fixtures", "TestSupport",
            ]
        ),
        .testTarget(
            name: "ReleaseGateTests",
            dependencies: ["ReleaseGate", "Planning", "Ports", "StateStore", "Fixtures"]
        ),
        .testTarget(
            name: "ControllerTests",
            dependencies: [
                "Controller", "Engine", "Planning", "Ports", "DesiredState", "DesiredStateSources", "Rendering", "ReleaseGate", "StateStore",
                "ControllerConfig", "AWSClient", "Fixtures", .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .testTarget(
            name: "OperatorSurfaceTests",
            dependencies: [
                "OperatorSurface", "Controller", "ControllerConfig", "Planning", "ReleaseGate", "StateStore", "AWSClient", "Fixtures", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"), .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "SigV4Tests",
            dependencies: ["SigV4"],
            exclude: ["Vectors"]
        ),
        .testTarget(
            name: "ReconcilerCommandsTests",
            dependencies: ["ReconcilerCommands", "Controller", "ControllerConfig", "AWSClient", "EmulatorHarness", "TestSupport"]
        ),
    ]
)
