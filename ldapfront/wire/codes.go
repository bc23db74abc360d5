package wire

import "strconv"

// ResultCode is an LDAPResult resultCode (RFC 4511 section 4.1.9 and
// appendix A).
type ResultCode int

// Result codes the front end answers with. Names follow RFC 4511.
const (
	ResultSuccess                      ResultCode = 0
	ResultOperationsError              ResultCode = 1
	ResultProtocolError                ResultCode = 2
	ResultTimeLimitExceeded            ResultCode = 3
	ResultSizeLimitExceeded            ResultCode = 4
	ResultCompareFalse                 ResultCode = 5
	ResultCompareTrue                  ResultCode = 6
	ResultAuthMethodNotSupported       ResultCode = 7
	ResultStrongerAuthRequired         ResultCode = 8
	ResultReferral                     ResultCode = 10
	ResultAdminLimitExceeded           ResultCode = 11
	ResultUnavailableCriticalExtension ResultCode = 12
	ResultConfidentialityRequired      ResultCode = 13
	ResultSaslBindInProgress           ResultCode = 14
	ResultNoSuchAttribute              ResultCode = 16
	ResultUndefinedAttributeType       ResultCode = 17
	ResultInappropriateMatching        ResultCode = 18
	ResultConstraintViolation          ResultCode = 19
	ResultAttributeOrValueExists       ResultCode = 20
	ResultInvalidAttributeSyntax       ResultCode = 21
	ResultNoSuchObject                 ResultCode = 32
	ResultAliasProblem                 ResultCode = 33
	ResultInvalidDNSyntax              ResultCode = 34
	ResultInappropriateAuthentication  ResultCode = 48
	ResultInvalidCredentials           ResultCode = 49
	ResultInsufficientAccessRights     ResultCode = 50
	ResultBusy                         ResultCode = 51
	ResultUnavailable                  ResultCode = 52
	ResultUnwillingToPerform           ResultCode = 53
	ResultLoopDetect                   ResultCode = 54
	ResultNamingViolation              ResultCode = 64
	ResultObjectClassViolation         ResultCode = 65
	ResultNotAllowedOnNonLeaf          ResultCode = 66
	ResultNotAllowedOnRDN              ResultCode = 67
	ResultEntryAlreadyExists           ResultCode = 68
	ResultOther                        ResultCode = 80
)

var resultNames = map[ResultCode]string{
	ResultSuccess:                      "success",
	ResultOperationsError:              "operationsError",
	ResultProtocolError:                "protocolError",
	ResultTimeLimitExceeded:            "timeLimitExceeded",
	ResultSizeLimitExceeded:            "sizeLimitExceeded",
	ResultCompareFalse:                 "compareFalse",
	ResultCompareTrue:                  "compareTrue",
	ResultAuthMethodNotSupported:       "authMethodNotSupported",
	ResultStrongerAuthRequired:         "strongerAuthRequired",
	ResultReferral:                     "referral",
	ResultAdminLimitExceeded:           "adminLimitExceeded",
	ResultUnavailableCriticalExtension: "unavailableCriticalExtension",
	ResultConfidentialityRequired:      "confidentialityRequired",
	ResultSaslBindInProgress:           "saslBindInProgress",
	ResultNoSuchAttribute:              "noSuchAttribute",
	ResultUndefinedAttributeType:       "undefinedAttributeType",
	ResultInappropriateMatching:        "inappropriateMatching",
	ResultConstraintViolation:          "constraintViolation",
	ResultAttributeOrValueExists:       "attributeOrValueExists",
	ResultInvalidAttributeSyntax:       "invalidAttributeSyntax",
	ResultNoSuchObject:                 "noSuchObject",
	ResultAliasProblem:                 "aliasProblem",
	ResultInvalidDNSyntax:              "invalidDNSyntax",
	ResultInappropriateAuthentication:  "inappropriateAuthentication",
	ResultInvalidCredentials:           "invalidCredentials",
	ResultInsufficientAccessRights:     "insufficientAccessRights",
	ResultBusy:                         "busy",
	ResultUnavailable:                  "unavailable",
	ResultUnwillingToPerform:           "unwillingToPerform",
	ResultLoopDetect:                   "loopDetect",
	ResultNamingViolation:              "namingViolation",
	ResultObjectClassViolation:         "objectClassViolation",
	ResultNotAllowedOnNonLeaf:          "notAllowedOnNonLeaf",
	ResultNotAllowedOnRDN:              "notAllowedOnRDN",
	ResultEntryAlreadyExists:           "entryAlreadyExists",
	ResultOther:                        "other",
}

// String returns the RFC 4511 name, which is what operators grep logs for.
func (c ResultCode) String() string {
	if n, ok := resultNames[c]; ok {
		return n
	}
	return "resultCode(" + strconv.Itoa(int(c)) + ")"
}

// OIDs of the extended operations and controls the front end speaks.
const (
	OIDStartTLS               = "1.3.6.1.4.1.1466.20037"
	OIDNoticeOfDisconnection  = "1.3.6.1.4.1.1466.20036"
	OIDWhoAmI                 = "1.3.6.1.4.1.4203.1.11.3"
	OIDPasswordModify         = "1.3.6.1.4.1.4203.1.11.1"
	OIDPagedResults           = "1.2.840.113556.1.4.319"
	OIDManageDsaIT            = "2.16.840.1.113730.3.4.2"
	OIDServerSideSortRequest  = "1.2.840.113556.1.4.473"
	OIDServerSideSortResponse = "1.2.840.113556.1.4.474"
)

// OpTag is the APPLICATION tag of a protocolOp (RFC 4511 section 4.2 ff.).
type OpTag int

// Protocol operation tags.
const (
	TagBindRequest           OpTag = 0
	TagBindResponse          OpTag = 1
	TagUnbindRequest         OpTag = 2
	TagSearchRequest         OpTag = 3
	TagSearchResultEntry     OpTag = 4
	TagSearchResultDone      OpTag = 5
	TagModifyRequest         OpTag = 6
	TagModifyResponse        OpTag = 7
	TagAddRequest            OpTag = 8
	TagAddResponse           OpTag = 9
	TagDelRequest            OpTag = 10
	TagDelResponse           OpTag = 11
	TagModifyDNRequest       OpTag = 12
	TagModifyDNResponse      OpTag = 13
	TagCompareRequest        OpTag = 14
	TagCompareResponse       OpTag = 15
	TagAbandonRequest        OpTag = 16
	TagSearchResultReference OpTag = 19
	TagExtendedRequest       OpTag = 23
	TagExtendedResponse      OpTag = 24
	TagIntermediateResponse  OpTag = 25
)

// ResponseTag returns the tag of the response that answers a request with
// tag t, so a server can reply to a malformed request with the right
// response type. ok is false for Unbind and Abandon (which get no response)
// and for tags that are not requests; such failures are answered with a
// Notice of Disconnection instead.
func ResponseTag(t OpTag) (resp OpTag, ok bool) {
	switch t {
	case TagBindRequest, TagModifyRequest, TagAddRequest, TagDelRequest,
		TagModifyDNRequest, TagCompareRequest:
		return t + 1, true
	case TagSearchRequest:
		return TagSearchResultDone, true
	case TagExtendedRequest:
		return TagExtendedResponse, true
	}
	return 0, false
}
