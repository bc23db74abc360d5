# Headwater: build, run and test.
#   make run    run the server on embedded defaults (data in ./headwater-data)
#   make test   install what the tests need (Debian's etcd) and run them all
#   make bench  store and SCIM benchmarks at 100,000 users; make bench-1m: store at 1,000,000

GO       ?= go
BIN      := bin/headwater
FUZZTIME ?= 30s

.PHONY: build run test test-deps vet bench bench-1m bench-ldap bench-saml bench-m365 bench-ad fuzz cross clean

build:
	$(GO) build -o $(BIN) ./cmd/headwater

run: build
	./$(BIN) serve

test-deps:
	./scripts/test-deps.sh

vet:
	@unformatted="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

test: test-deps vet cross
	$(GO) test -race -timeout 20m ./...

# The agent and its account drivers build for every OS they run on.
cross:
	GOOS=windows GOARCH=amd64 $(GO) build ./agent/...
	GOOS=darwin GOARCH=arm64 $(GO) build ./agent/...
	GOOS=windows GOARCH=amd64 $(GO) vet ./agent/driver/
	GOOS=darwin GOARCH=arm64 $(GO) vet ./agent/driver/

bench: build
	$(GO) build -o bin/storebench ./tools/storebench
	$(GO) build -o bin/scimbench ./tools/scimbench
	./bin/storebench -users 100000 -phase 5s -binary $(BIN)
	./bin/scimbench -users 100000 -phase 5s

bench-1m: build
	$(GO) build -o bin/storebench ./tools/storebench
	./bin/storebench -users 1000000 -phase 5s -binary $(BIN)

# Runs every fuzz target for FUZZTIME; new finds land in testdata/fuzz.
fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzVerify$$' -fuzztime=$(FUZZTIME) ./authority/password/
	$(GO) test -run='^$$' -fuzz='^FuzzParseArgon2id$$' -fuzztime=$(FUZZTIME) ./authority/password/
	$(GO) test -run='^$$' -fuzz='^FuzzOpen$$' -fuzztime=$(FUZZTIME) ./authority/seal/
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./authority/seal/
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=1s ./config/
	$(GO) test -run='^$$' -fuzz='^FuzzNormalizeUser$$' -fuzztime=$(FUZZTIME) ./authority/
	$(GO) test -run='^$$' -fuzz='^FuzzUserInput$$' -fuzztime=$(FUZZTIME) ./server/api/
	$(GO) test -run='^$$' -fuzz='^FuzzApply$$' -fuzztime=$(FUZZTIME) ./scim/patch/
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./scim/filter/
	$(GO) test -run='^$$' -fuzz='^FuzzParsePath$$' -fuzztime=$(FUZZTIME) ./scim/filter/
	$(GO) test -run='^$$' -fuzz='^FuzzUserFromSCIM$$' -fuzztime=$(FUZZTIME) ./scim/resource/
	$(GO) test -run='^$$' -fuzz='^FuzzReadMessage$$' -fuzztime=$(FUZZTIME) ./ldapfront/wire/
	$(GO) test -run='^$$' -fuzz='^FuzzFastSearch$$' -fuzztime=$(FUZZTIME) ./ldapfront/wire/
	$(GO) test -run='^$$' -fuzz='^FuzzSearchFilter$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=2s ./ldapfront/directory/
	$(GO) test -run='^$$' -fuzz='^FuzzResolveDN$$' -fuzztime=$(FUZZTIME) ./ldapfront/directory/
	$(GO) test -run='^$$' -fuzz='^FuzzParseFilter$$' -fuzztime=$(FUZZTIME) ./internal/graphemu/
	$(GO) test -run='^$$' -fuzz='^FuzzParseMetadata$$' -fuzztime=$(FUZZTIME) ./samlidp/
	$(GO) test -run='^$$' -fuzz='^FuzzSSO$$' -fuzztime=$(FUZZTIME) ./samlidp/
	$(GO) test -run='^$$' -fuzz='^FuzzSLO$$' -fuzztime=$(FUZZTIME) ./samlidp/

clean:
	rm -rf bin

# SAML sign-ins per second (8 clients) beside the RSA signature ceiling, same run.
bench-saml:
	$(GO) build -o bin/samlbench ./tools/samlbench
	./bin/samlbench -phase 5s

# Delivery to Microsoft 365 through the Graph emulator with 50 ms latency: initial sync of
# 10,000 users beside the lower bound, and password change -> delivery p50/p99.
bench-m365:
	$(GO) build -o bin/m365bench ./tools/m365bench
	./bin/m365bench -users 10000 -latency 50ms

# Active Directory (a throwaway Samba DC, started by the test): initial push of 2,000 users and
# a full reconcile pass over them. Needs root (Samba) and the test dependencies (make test-deps).
bench-ad: test-deps
	$(GO) test -run '^$$' -bench '^BenchmarkADPush$$' -benchtime 1x ./connectors/ad/

# LDAP front end beside OpenLDAP's slapd (installs slapd and ldap-utils when missing).
bench-ldap: build
	@if [ ! -x /usr/sbin/slapd ] || ! command -v slappasswd >/dev/null 2>&1; then \
	  echo "installing slapd ldap-utils"; \
	  sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $$sudo apt-get update -qq; \
	  rm_policy=""; \
	  if [ ! -e /usr/sbin/policy-rc.d ]; then \
	    printf '#!/bin/sh\nexit 101\n' | $$sudo tee /usr/sbin/policy-rc.d >/dev/null; \
	    $$sudo chmod +x /usr/sbin/policy-rc.d; rm_policy=1; \
	  fi; \
	  $$sudo apt-get install -y -qq --no-install-recommends slapd ldap-utils >/dev/null; st=$$?; \
	  [ -z "$$rm_policy" ] || $$sudo rm -f /usr/sbin/policy-rc.d; \
	  [ $$st -eq 0 ] || exit $$st; \
	fi
	$(GO) build -o bin/ldapbench ./tools/ldapbench
	./bin/ldapbench -phase 5s -binary $(BIN)
