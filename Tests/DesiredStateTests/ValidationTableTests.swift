import DesiredState
import Testing

/// One broken desired state: the edits that break it, the rule that must catch it,
/// where (a needle inside the inserted text, or a fixed location) and what it says.
struct BadInput: Sendable, CustomTestStringConvertible {
    var name: String
    var edits: [Fixture.Edit]
    var rule: Diagnostic.Rule
    /// The diagnostic points at the first character of this text inside the last edit's new text.
    var at: String?
    var fixed: FileLocation? = nil
    var path: String
    var message: String
    var hint: String = ""

    var testDescription: String { name }
}

private func edit(_ file: String, _ old: String, _ new: String) -> Fixture.Edit { .init(file: file, old: old, new: new) }

let badInputs: [BadInput] = [
    BadInput(
        name: "typo in a field name", edits: [edit("functions.yaml", "    memory: 512\n    timeout: 29", "    memroy: 512\n    timeout: 29")],
        rule: .unknownKey, at: "memroy", path: "functions.Api.memroy", message: "unknown key 'memroy'", hint: "did you mean 'memory'?"),
    BadInput(
        name: "memory is not a number", edits: [edit("functions.yaml", "memory: 512\n    timeout: 29", "memory: lots\n    timeout: 29")],
        rule: .wrongType, at: "lots", path: "functions.Api.memory", message: "'lots' is not a whole number", hint: "128 to 10240 MB"),
    BadInput(
        name: "memory below 128 MB", edits: [edit("functions.yaml", "memory: 1024", "memory: 64")],
        rule: .outOfRange, at: "64", path: "functions.QueueModelMessageProcessor.memory", message: "64 MB is out of range", hint: "128 to 10240"),
    BadInput(
        name: "timeout above 900 s",
        edits: [edit("functions.yaml", "timeout: 300\n    layers: [common, reports]", "timeout: 901\n    layers: [common, reports]")],
        rule: .outOfRange, at: "901", path: "functions.QueueModelMessageProcessor.timeout", message: "901 seconds is out of range", hint: "1 to 900"),
    BadInput(
        name: "a default every function overrides is still checked", edits: [edit("functions.yaml", "  timeout: 60\n  handler", "  timeout: 5000\n  handler")],
        rule: .outOfRange, at: "5000", path: "defaults.timeout", message: "5000 seconds is out of range", hint: "1 to 900"),
    BadInput(
        name: "HTTP function slower than the API allows", edits: [edit("functions.yaml", "timeout: 29", "timeout: 45")],
        rule: .httpTimeout, at: "45", path: "functions.Api.timeout", message: "behind the HTTP API (ANY /api/{proxy+}) but its timeout is 45 s",
        hint: "30 or less"),
    BadInput(
        name: "unknown layer", edits: [edit("functions.yaml", "timeout: 29\n    layers: [common]", "timeout: 29\n    layers: [comon]")],
        rule: .unknownReference, at: "comon", path: "functions.Api.layers[0]", message: "unknown layer 'comon'", hint: "did you mean 'common'?"),
    BadInput(
        name: "trigger on an unknown queue", edits: [edit("functions.yaml", "- queue: AmazonReports", "- queue: AmazonReport")],
        rule: .unknownReference, at: "AmazonReport", path: "functions.QueueModelMessageProcessor.triggers[0].queue", message: "unknown queue 'AmazonReport'",
        hint: "did you mean 'AmazonReports'?"),
    BadInput(
        name: "trigger on an unknown bucket", edits: [edit("functions.yaml", "- bucket: dzgro-reports", "- bucket: dzgro-report")],
        rule: .unknownReference, at: "dzgro-report", path: "functions.DzgroReportsS3Trigger.triggers[0].bucket", message: "unknown bucket 'dzgro-report'"),
    BadInput(
        name: "route to an unknown function", edits: [edit("api.yaml", "function: RazorPayWebhook", "function: RazorpayHook")],
        rule: .unknownReference, at: "RazorpayHook", path: "api.routes[1].function", message: "unknown function 'RazorpayHook'"),
    BadInput(
        name: "function name over 64 characters",
        edits: [edit("functions.yaml", "  CognitoTrigger:\n", "  CognitoTriggerWithAVeryLongNameThatLambdaWillNotAcceptAtAll:\n")],
        rule: .invalidName, at: "CognitoTriggerWith", path: "functions.CognitoTriggerWithAVeryLongNameThatLambdaWillNotAcceptAtAll",
        message: "is not a valid Lambda function name", hint: "at most 56 characters"),
    BadInput(
        name: "queue name over 80 characters",
        edits: [
            edit(
                "queues.yaml", "  DzgroReports:\n    featureSet: core\n",
                "  DzgroReports:\n    featureSet: core\n  ReportsForEveryMarketplaceAndEveryAdvertisingAccountAndEverySellerInTheWorld:\n    featureSet: core\n"
            )
        ],
        rule: .invalidName, at: "ReportsForEvery", path: "queues.ReportsForEveryMarketplaceAndEveryAdvertisingAccountAndEverySellerInTheWorld",
        message: "characters long", hint: "at most 80"),
    BadInput(
        name: "bucket name with uppercase and underscore",
        edits: [
            edit(
                "buckets.yaml", "  dzgro-invoices:\n    featureSet: core\n", "  dzgro-invoices:\n    featureSet: core\n  Dzgro_Archive:\n    featureSet: core\n"
            )
        ],
        rule: .invalidName, at: "Dzgro_Archive", path: "buckets.Dzgro_Archive", message: "may only contain lowercase letters, digits and hyphens"),
    BadInput(
        name: "bucket name longer than a DNS label",
        edits: [
            edit(
                "buckets.yaml", "  dzgro-invoices:\n    featureSet: core\n",
                "  dzgro-invoices:\n    featureSet: core\n  dzgro-marketplace-settlement-reports-for-all-sellers-xyzw:\n    featureSet: core\n")
        ],
        rule: .invalidName, at: "dzgro-marketplace", path: "buckets.dzgro-marketplace-settlement-reports-for-all-sellers-xyzw",
        message: "bucket names have 3 to 63"),
    BadInput(
        name: "environment name that cannot be an alias", edits: [edit("project.yaml", "  local: {alias: none}", "  2local: {alias: none}")],
        rule: .invalidName, at: "2local", path: "environments.2local", message: "cannot be an alias and stage name", hint: "lowercase letters and digits"),
    BadInput(
        name: "two environments follow deployments", edits: [edit("project.yaml", "  staging: {alias: gated}", "  staging: {alias: auto}")],
        rule: .aliasPolicy, at: "staging", path: "environments", message: "2 environments have `alias: auto` (dev, staging)", hint: "exactly one environment"),
    BadInput(
        name: "no version kept", edits: [edit("project.yaml", "keepVersions: 10", "keepVersions: 0")],
        rule: .outOfRange, at: "0", path: "keepVersions", message: "0 versions is out of range", hint: "from 1 to 1000 versions"),
    BadInput(
        name: "a CORS method S3 does not have", edits: [edit("buckets.yaml", "allowedMethods: [GET, PUT, POST, HEAD]", "allowedMethods: [GET, PATCH]")],
        rule: .invalidValue, at: "PATCH", path: "buckets.dzgro-uploads.cors[0].allowedMethods[1]", message: "'PATCH' is not allowed",
        hint: "GET, PUT, HEAD, POST, DELETE"),
    BadInput(
        name: "a CORS origin that is plain http", edits: [edit("buckets.yaml", "\"https://app.dzgro.com\"", "\"http://app.dzgro.com\"")],
        rule: .invalidValue, at: "\"http://app.dzgro.com\"", path: "buckets.dzgro-uploads.cors[0].allowedOrigins",
        message: "origin 'http://app.dzgro.com' is neither https nor http://localhost"),
    BadInput(
        name: "a transition to infrequent access too early",
        edits: [edit("buckets.yaml", "{days: 90, storageClass: STANDARD_IA}", "{days: 10, storageClass: STANDARD_IA}")],
        rule: .outOfRange, at: "10", path: "buckets.dzgro-reports.lifecycle.transitions[0].days", message: "STANDARD_IA takes objects at least 30 days old"),
    BadInput(
        name: "transitions out of order", edits: [edit("buckets.yaml", "{days: 180, storageClass: GLACIER_IR}", "{days: 20, storageClass: GLACIER_IR}")],
        rule: .outOfRange, at: "20", path: "buckets.amazon-reports.lifecycle.transitions[1].days", message: "transitions must come later one after another"),
    BadInput(
        name: "noncurrent versions of an unversioned bucket",
        edits: [
            edit("buckets.yaml", "    lifecycle:\n      abortIncompleteMultipartUploadDays: 1", "    lifecycle:\n      noncurrentVersionExpirationDays: 5")
        ],
        rule: .invalidValue, at: "5", path: "buckets.dzgro-uploads.lifecycle.noncurrentVersionExpirationDays",
        message: "only a versioned bucket has noncurrent versions"),
    BadInput(
        name: "a callback URL over plain http",
        edits: [edit("cognito.yaml", "staging: [\"https://staging.dzgro.com/auth/callback\"]", "staging: [\"http://staging.dzgro.com/auth/callback\"]")],
        rule: .invalidValue, at: "\"http://staging", path: "cognito.oauth.callbackURLs.staging",
        message: "'http://staging.dzgro.com/auth/callback' is neither https nor http://localhost"),
    BadInput(
        name: "an identity provider nobody declared", edits: [edit("cognito.yaml", "identityProviders: [COGNITO]", "identityProviders: [COGNITO, Google]")],
        rule: .unknownReference, at: "Google", path: "cognito.oauth.identityProviders", message: "identity provider 'Google' is not declared"),
    BadInput(
        name: "an OAuth scope Cognito does not have", edits: [edit("cognito.yaml", "scopes: [openid, email, profile]", "scopes: [openid, mail]")],
        rule: .invalidValue, at: "mail", path: "cognito.oauth.scopes[1]", message: "'mail' is not allowed", hint: "openid, email, phone, profile"),
    BadInput(
        name: "the code flow with nowhere to send people back",
        edits: [
            edit(
                "cognito.yaml",
                "    callbackURLs:\n      dev: [\"https://dev.dzgro.com/auth/callback\", \"http://localhost:3000/auth/callback\"]\n      staging: "
                    + "[\"https://staging.dzgro.com/auth/callback\"]\n      prod: [\"https://dzgro.com/auth/callback\"]\n",
                "")
        ],
        rule: .missingField, fixed: FileLocation(file: "cognito.yaml", line: 12, column: 5), path: "cognito.oauth",
        message: "the code flow send people back to a callback URL, and none is given"),
    BadInput(
        name: "a stack to adopt from that is no stack name",
        edits: [edit("project.yaml", "keepVersions: 10", "keepVersions: 10\nadopt:\n  fromStacks: [dzgro_dev]")],
        rule: .invalidName, at: "dzgro_dev", path: "adopt.fromStacks[0]", message: "'dzgro_dev' is not a CloudFormation stack name",
        hint: "at most 128 letters, digits and hyphens"),
    BadInput(
        name: "adopting from the controller's own stack",
        edits: [edit("project.yaml", "keepVersions: 10", "keepVersions: 10\nadopt:\n  fromStacks: [dzgro-dev, Dzgro-core]")],
        rule: .invalidValue, at: "Dzgro-core", path: "adopt.fromStacks[1]", message: "stack Dzgro-core is one of the controller's own",
        hint: "Dzgro-ams, Dzgro-core"),
    BadInput(
        name: "a stack to adopt from listed twice",
        edits: [edit("project.yaml", "keepVersions: 10", "keepVersions: 10\nadopt:\n  fromStacks: [dzgro-dev, dzgro-dev]")],
        rule: .duplicateKey, at: "dzgro-dev]", path: "adopt.fromStacks[1]", message: "stack dzgro-dev is listed twice"),
    BadInput(
        name: "adopt without fromStacks", edits: [edit("project.yaml", "keepVersions: 10", "keepVersions: 10\nadopt:\n  fromStack: [dzgro-dev]")],
        rule: .unknownKey, at: "fromStack", path: "adopt.fromStack", message: "unknown key 'fromStack'", hint: "did you mean 'fromStacks'?"),
    BadInput(
        name: "misspelt alias policy", edits: [edit("project.yaml", "  prod: {alias: gated}", "  prod: {alias: gatd}")],
        rule: .invalidValue, at: "gatd", path: "environments.prod.alias", message: "'gatd' is not allowed", hint: "did you mean 'gated'?"),
    BadInput(
        name: "core feature set in two regions", edits: [edit("project.yaml", "regions: [ap-south-1]\n", "regions: [ap-south-1, eu-west-1]\n")],
        rule: .globalFeatureSetRegions, fixed: FileLocation(file: "buckets.yaml", line: 5, column: 3), path: "buckets.dzgro-reports",
        message: "bucket name 'dzgro-reports-dev' would be created in 2 regions (ap-south-1, eu-west-1)", hint: "must run in exactly one region"),
    BadInput(
        name: "two functions claim the same IAM role name",
        edits: [
            edit("functions.yaml", "    memory: 512\n", "    memory: 512\n    roleName: DzgroLambdaRole\n"),
            edit("functions.yaml", "    timeout: 15\n", "    timeout: 15\n    roleName: DzgroLambdaRole\n"),
        ],
        rule: .globalNameCollision, at: "DzgroLambdaRole", path: "functions.RazorPayWebhook.roleName",
        message: "IAM role name 'DzgroLambdaRole' is also used by functions.Api.roleName", hint: "rename one"),
    BadInput(
        name: "named role in a multi-region feature set",
        edits: [edit("functions.yaml", "    timeout: 120\n", "    timeout: 120\n    roleName: AmsChangeRole\n")],
        rule: .globalFeatureSetRegions, at: "AmsChangeRole", path: "functions.AmsChange.roleName",
        message: "IAM role name 'AmsChangeRole' would be created in 4 regions", hint: "add `{region}` to the role name"),
    BadInput(
        name: "version pin zero", edits: [edit("releases.yaml", "    Api: 1\n", "    Api: 0\n")],
        rule: .versionPin, at: "0", path: "staging.ap-south-1.Api", message: "version pin '0' is not a positive whole number"),
    BadInput(
        name: "version pin that is not a number", edits: [edit("releases.yaml", "    RazorPayWebhook: 1\n", "    RazorPayWebhook: latest\n")],
        rule: .versionPin, at: "latest", path: "staging.ap-south-1.RazorPayWebhook", message: "version pin 'latest' is not a positive whole number"),
    BadInput(
        name: "canary weight above 1",
        edits: [
            edit("releases.yaml", "prod:\n  ap-south-1:\n    Api: 1\n", "prod:\n  ap-south-1:\n    Api: {version: 1, canary: {version: 2, weight: 1.5}}\n")
        ],
        rule: .versionPin, at: "1.5", path: "prod.ap-south-1.Api.canary.weight", message: "canary weight '1.5' is not a fraction between 0 and 1",
        hint: "0.1 for 10 %"),
    BadInput(
        name: "canary on the pinned version itself",
        edits: [
            edit("releases.yaml", "prod:\n  ap-south-1:\n    Api: 1\n", "prod:\n  ap-south-1:\n    Api: {version: 3, canary: {version: 3, weight: 0.2}}\n")
        ],
        rule: .versionPin, at: "{version: 3, w", path: "prod.ap-south-1.Api.canary", message: "the canary version 3 is the pinned version itself"),
    BadInput(
        name: "canary without a weight",
        edits: [edit("releases.yaml", "prod:\n  ap-south-1:\n    Api: 1\n", "prod:\n  ap-south-1:\n    Api: {version: 3, canary: {version: 4}}\n")],
        rule: .missingField, at: "{version: 4}", path: "prod.ap-south-1.Api.canary", message: "'weight' is required", hint: "canary: {version: 13, weight: 0.1}"
    ),
    BadInput(
        name: "missing release pin", edits: [edit("releases.yaml", "prod:\n  ap-south-1:\n    Api: 1\n", "prod:\n  ap-south-1:\n")],
        rule: .missingPin, fixed: .file("releases.yaml"), path: "prod.ap-south-1.Api", message: "no prod version pinned for Api in ap-south-1",
        hint: "add `Api: 1`"),
    BadInput(
        name: "pin in a region the function does not run in",
        edits: [edit("releases.yaml", "  eu-west-1:\n    AmsChange: 1\n", "  eu-west-1:\n    CognitoTrigger: 3\n    AmsChange: 1\n")],
        rule: .unexpectedPin, at: "CognitoTrigger: 3", path: "staging.eu-west-1.CognitoTrigger",
        message: "function 'CognitoTrigger' does not run in eu-west-1"),
    BadInput(
        name: "unknown region", edits: [edit("project.yaml", "us-east-1, us-west-2]", "us-east-1, us-wets-2]")],
        rule: .invalidValue, at: "us-wets-2", path: "featureSets.ams.regions[3]", message: "unknown AWS region 'us-wets-2'", hint: "did you mean 'us-west-2'?"),
    BadInput(
        name: "function uses a queue of another feature set", edits: [edit("functions.yaml", "    sendsTo: [AmsPerformance]", "    sendsTo: [AmazonReports]")],
        rule: .crossFeatureSet, at: "AmazonReports", path: "functions.AmsChange.sendsTo[0]",
        message: "function 'AmsChange' (feature set ams) is used with queue 'AmazonReports' of feature set core"),
    BadInput(
        name: "queue visibility shorter than its consumer's timeout", edits: [edit("queues.yaml", "visibilityTimeout: 720", "visibilityTimeout: 60")],
        rule: .visibilityTimeout, at: "60", path: "queues.AmsChange.visibilityTimeout", message: "shorter than consumer AmsChange's timeout 120 s"),
    BadInput(
        name: "layer not built for the runtime",
        edits: [
            edit("functions.yaml", "    timeout: 300\n    layers: [common, ams]\n", "    timeout: 300\n    runtime: python3.11\n    layers: [common, ams]\n")
        ],
        rule: .runtimeMismatch, at: "common, ams", path: "functions.AmsPerformance.layers[0]",
        message: "layer 'common' is not built for python3.11"),
    BadInput(
        name: "code directory that does not exist", edits: [edit("functions.yaml", "code: functions/api\n", "code: functions/apii\n")],
        rule: .missingCode, at: "functions/apii", path: "functions.Api.code", message: "code directory 'functions/apii' holds no files"),
    BadInput(
        name: "handler module not in the code", edits: [edit("functions.yaml", "    timeout: 15\n", "    timeout: 15\n    handler: main.handler\n")],
        rule: .missingCode, at: "main.handler", path: "functions.RazorPayWebhook.handler",
        message: "handler module 'main.py' is not in 'functions/razorpay_webhook'"),
    BadInput(
        name: "key written twice", edits: [edit("functions.yaml", "    timeout: 15\n", "    timeout: 15\n    timeout: 20\n")],
        rule: .duplicateKey, at: "timeout: 15", path: "", message: "key 'timeout' appears twice"),
    BadInput(
        name: "YAML syntax error", edits: [edit("queues.yaml", "  DzgroReports:\n", "  DzgroReports: [\n")],
        rule: .yamlSyntax, fixed: FileLocation(file: "queues.yaml", line: 13, column: 12), path: "",
        message: "did not find expected ',' or ']' (while parsing a flow sequence at 11:17)"),
    BadInput(
        name: "required field missing", edits: [edit("queues.yaml", "  DzgroReports:\n    featureSet: core\n", "  DzgroReports:\n    maxReceiveCount: 3\n")],
        rule: .missingField, at: "maxReceiveCount", path: "queues.DzgroReports", message: "'featureSet' is required"),
    BadInput(
        name: "route defined twice", edits: [edit("api.yaml", "  cors:\n", "    - route: ANY /api/{proxy+}\n      function: Api\n  cors:\n")],
        rule: .duplicateRoute, at: "ANY /api", path: "api.routes[2].route", message: "route 'ANY /api/{proxy+}' is defined twice"),
    BadInput(
        name: "reserved environment variable", edits: [edit("functions.yaml", "LOG_LEVEL: INFO", "AWS_REGION: eu-west-1")],
        rule: .invalidName, at: "AWS_REGION", path: "functions.Api.environment.AWS_REGION", message: "'AWS_REGION' is reserved by Lambda"),
    BadInput(
        name: "misspelt file name", edits: [edit("function.yaml", "", "functions: {}\n")],
        rule: .unknownKey, fixed: .file("function.yaml"), path: "", message: "unknown desired-state file 'function.yaml'",
        hint: "did you mean 'functions.yaml'?"),
    BadInput(
        name: "trigger with two sources",
        edits: [edit("functions.yaml", "      - queue: DzgroReports\n", "      - queue: DzgroReports\n        bucket: dzgro-uploads\n")],
        rule: .invalidValue, at: "queue: DzgroReports", path: "functions.QueueModelMessageProcessor.triggers[1]", message: "the trigger names several sources"),
    BadInput(
        name: "unknown Cognito trigger", edits: [edit("functions.yaml", "[PreSignUp, PostConfirmation]", "[PreSignup, PostConfirmation]")],
        rule: .invalidValue, at: "PreSignup", path: "functions.CognitoTrigger.triggers[0].cognito[0]", message: "'PreSignup' is not allowed",
        hint: "did you mean 'PreSignUp'?"),
    BadInput(
        name: "two routes that become one logical id",
        edits: [edit("api.yaml", "  cors:\n", "    - route: GET /a-b\n      function: Api\n    - route: GET /a/b\n      function: Api\n  cors:\n")],
        rule: .invalidName, at: "GET /a/b", path: "api.routes[3].route",
        message: "route 'GET /a/b' and 'GET /a-b' (api.yaml:11:14) both become the logical id part 'GETAB'"),
    BadInput(
        name: "pin for a gated environment that does not exist", edits: [edit("releases.yaml", "", "qa:\n  ap-south-1:\n    Api: 2\n")],
        rule: .unknownReference, at: "qa", path: "qa.ap-south-1.Api", message: "unknown environment 'qa'"),
]

@Suite struct ValidationTableTests {
    @Test func theDefaultStateIsValid() throws {
        let result = DesiredStateLoader.load(Fixture.files)
        #expect(result.diagnostics.isEmpty, "\(result.diagnostics)")
        #expect(result.state?.functions.count == 7)
    }

    @Test func thereAreAtLeastTwentyDistinctRulesAndCases() {
        #expect(badInputs.count >= 20)
        #expect(Set(badInputs.map(\.rule)).count >= 20)
    }

    @Test(arguments: badInputs)
    func rejects(_ input: BadInput) throws {
        let files = Fixture.applying(input.edits)
        let diagnostics = DesiredStateLoader.load(files).diagnostics
        let expected = try #require(input.fixed ?? input.at.map { Fixture.location(of: $0, in: input.edits.last!, files: files) })
        let matching = diagnostics.filter { $0.rule == input.rule && $0.path == input.path }
        try #require(!matching.isEmpty, "no \(input.rule) diagnostic at \(input.path); got:\n\(diagnostics.map(\.description).joined(separator: "\n"))")
        let hit = matching.first { $0.location == expected }
        try #require(hit != nil, "\(input.rule) at \(matching.map(\.location)) instead of \(expected)")
        #expect(hit!.message.contains(input.message), "message: \(hit!.message)")
        #expect(input.hint.isEmpty || hit!.hint.contains(input.hint), "hint: \(hit!.hint)")
        // Every message a person sees names the file and position, the field and a next step.
        #expect(hit!.description.hasPrefix("\(expected): "))
        #expect(!hit!.hint.isEmpty)
    }

    /// One run reports every problem, not only the first.
    @Test func reportsEveryProblemAtOnce() {
        let picked = badInputs.filter {
            [
                "typo in a field name", "memory below 128 MB", "unknown layer", "version pin zero", "unknown region",
                "misspelt alias policy", "YAML syntax error",
            ].contains($0.name)
        }
        #expect(picked.count == 7)
        let diagnostics = DesiredStateLoader.load(Fixture.applying(picked.flatMap(\.edits))).diagnostics
        for input in picked {
            #expect(diagnostics.contains { $0.rule == input.rule && $0.path == input.path }, "missing \(input.name)")
        }
    }

    @Test func missingRequiredFilesAreNamed() {
        var files = Fixture.files
        files.files["releases.yaml"] = nil
        files.files["functions.yaml"] = nil
        let diagnostics = DesiredStateLoader.load(files).diagnostics.filter { $0.rule == .missingFile }
        #expect(diagnostics.map(\.location.file).sorted() == ["functions.yaml", "releases.yaml"])
    }
}
