import DesiredState
import Rendering

/// Where a parameter of a rendered stack gets its value. Decided here, once, for both the
/// planner (which fills what is known when planning) and the applier (which fills what an
/// earlier step of the same apply produces: a layer version just published, a certificate
/// just issued).
public enum ParameterSource: Hashable, Sendable {
    /// The region's artifact bucket.
    case artifactBucket
    /// An ACM certificate's ARN; when the plan requests it, the step that waits for ISSUED provides it.
    case certificate(CertificateRequest.Purpose)
    /// The newest version of a layer; when the plan publishes one, that step provides it.
    case layer(String)
    /// A gated alias's live version (`""` while the function does not exist).
    case aliasVersion(AliasParameters)
    /// A gated alias's live canary, `VERSION:WEIGHT` or `""`.
    case aliasCanary(AliasParameters)

    /// Whether a step of the same apply may produce the value (so planning may not know it).
    public var isProducedByApply: Bool {
        switch self {
        case .certificate, .layer: return true
        case .artifactBucket, .aliasVersion, .aliasCanary: return false
        }
    }
}

extension RenderedStack {
    /// Every parameter of the stack with its source, in the template's order.
    public func parameterSources(_ state: DesiredState) -> [(parameter: String, source: ParameterSource)] {
        var aliases: [String: ParameterSource] = [:]
        for alias in aliasParameters {
            aliases[alias.version] = .aliasVersion(alias)
            aliases[alias.canary] = .aliasCanary(alias)
        }
        return parameters.compactMap { parameter in
            if parameter == TemplateParameters.artifactBucket { return (parameter, .artifactBucket) }
            if parameter == TemplateParameters.apiCertificate { return (parameter, .certificate(.api)) }
            if let layer = state.layers.first(where: { TemplateParameters.layer($0.name.value) == parameter }) { return (parameter, .layer(layer.name.value)) }
            return aliases[parameter].map { (parameter, $0) }
        }
    }
}
