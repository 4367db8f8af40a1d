package stack

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// mutate returns the real compose.yaml with one line's text replaced,
// checking the line is there so the test breaks loudly when the file moves on.
func mutate(t *testing.T, old, new string) string {
	t.Helper()
	real := string(realCompose(t))
	if strings.Count(real, old) < 1 {
		t.Fatalf("compose.yaml no longer holds %q", old)
	}
	return strings.Replace(real, old, new, 1)
}

// lineOf is the line where text starts in content (a leading newline in
// text is skipped, to anchor a match at a line start).
func lineOf(t *testing.T, content, text string) int {
	t.Helper()
	i := strings.Index(content, text)
	if i < 0 {
		t.Fatalf("%q not found", text)
	}
	if strings.HasPrefix(text, "\n") {
		i++
	}
	return strings.Count(content[:i], "\n") + 1
}

// Every broken file gets one FileError naming the file, the line and the field.
func TestBrokenFiles(t *testing.T) {
	tests := []struct {
		name    string
		compose string   // stack/compose.yaml; "" = the real one
		at      string   // text whose line replaces %d in want: the real file moves on
		extra   string   // a second file, dev.yaml, loaded after it
		environ []string // the process environment
		want    string
	}{
		// the real file, one thing broken
		{name: "port not a port",
			compose: mutate(t, `"${STARWARS_PUBLISHED_PORT:-5003}:5003"`, `"abc"`), at: `"abc"`,
			want: `stack/compose.yaml:%d: services.edge.ports.0: invalid port "abc": invalid containerPort: abc`},
		{name: "port broken by interpolation", environ: []string{"STARWARS_PUBLISHED_PORT=http"}, at: "STARWARS_PUBLISHED_PORT:-5003",
			want: `stack/compose.yaml:%d: services.edge.ports.0: invalid port "http:5003": invalid hostPort: http`},
		{name: "unknown restart policy",
			compose: mutate(t, "    restart: unless-stopped\n    read_only", "    restart: sometimes\n    read_only"), at: "restart: sometimes",
			want: `stack/compose.yaml:%d: services.edge.restart: unknown restart policy "sometimes" (want no, always, on-failure[:N] or unless-stopped)`},
		{name: "bad duration",
			compose: mutate(t, "interval: 2s\n      timeout: 5s", "interval: 5 parsecs\n      timeout: 5s"), at: "5 parsecs",
			want: `stack/compose.yaml:%d: services.mysql.healthcheck.interval: unknown unit " parsecs" in duration "5 parsecs"`},
		{name: "unknown key",
			compose: mutate(t, "    image: ${MYSQL_IMAGE", "    imagee: ${MYSQL_IMAGE"), at: "imagee",
			want: `stack/compose.yaml:%d: services.mysql.imagee: unknown key`},
		{name: "no image and no build",
			compose: mutate(t, "    image: ${MYSQL_IMAGE:-mysql:8.4}\n", ""), at: "\n  mysql:\n",
			want: `stack/compose.yaml:%d: services.mysql: needs an image or a build section`},
		{name: "depends_on an undefined service",
			compose: mutate(t, "      mysql:\n        condition", "      mariadb:\n        condition"), at: "mariadb:",
			want: `stack/compose.yaml:%d: services.api.depends_on.mariadb: depends on undefined service "mariadb"`},
		{name: "dependency cycle",
			compose: mutate(t, "    hostname: starwars-mysql\n", "    hostname: starwars-mysql\n    depends_on: [api]\n"), at: "      mysql:\n        condition",
			want: `stack/compose.yaml:%d: services.api.depends_on.mysql: dependency cycle: api -> mysql -> api`},
		{name: "required variable",
			compose: mutate(t, "${MYSQL_IMAGE:-mysql:8.4}", "${MYSQL_IMAGE:?set MYSQL_IMAGE}"), at: "MYSQL_IMAGE:?",
			want: `stack/compose.yaml:%d: services.mysql.image: required variable MYSQL_IMAGE is missing a value: set MYSQL_IMAGE`},
		{name: "undefined network",
			compose: mutate(t, "      service-network:\n        aliases", "      public:\n        aliases"), at: "public:",
			want: `stack/compose.yaml:%d: services.api.networks.public: undefined network "public": declare it under networks:`},

		// small files, one error each
		{name: "YAML: bad indentation",
			compose: "services:\n  api:\n    image: foo\n   ports: [1]\n",
			want:    `stack/compose.yaml:4: invalid YAML: did not find expected key (while parsing a block mapping at line 2)`},
		{name: "YAML: unterminated quote",
			compose: "services:\n  api:\n    image: \"foo\n",
			want:    `stack/compose.yaml:4: invalid YAML: found unexpected end of stream (while scanning a quoted scalar at line 3)`},
		{name: "YAML: tab",
			compose: "services:\n  api:\n\timage: foo\n",
			want:    `stack/compose.yaml:3: invalid YAML: found character that cannot start any token`},
		{name: "YAML: duplicate key",
			compose: "services:\n  api:\n    image: foo\n    image: bar\n",
			want:    `stack/compose.yaml:4: invalid YAML: mapping key "image" already defined at line 3`},
		{name: "YAML: unclosed flow sequence",
			compose: "services:\n  api:\n    ports: [1, 2\n    image: x\n",
			want:    `stack/compose.yaml:4: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence at line 3)`},
		{name: "YAML: unknown anchor",
			compose: "services:\n  api:\n    image: *foo\n",
			want:    `stack/compose.yaml:3: invalid YAML: unknown anchor 'foo' referenced`},
		{name: "YAML: not a mapping",
			compose: "- a\n- b\n",
			want:    `stack/compose.yaml:1: top-level object must be a mapping`},
		{name: "empty file",
			compose: "# nothing\n",
			want:    `stack/compose.yaml: empty compose file`},
		{name: "ports of the wrong type",
			compose: "services:\n  api:\n    image: x\n    ports: 5003\n",
			want:    `stack/compose.yaml:4: services.api.ports: must be a array`},
		{name: "port entry of the wrong type",
			compose: "services:\n  api:\n    image: x\n    ports:\n      - [5003]\n",
			want:    `stack/compose.yaml:5: services.api.ports.0: must be a number`},
		{name: "long-syntax port not a number",
			compose: "services:\n  api:\n    image: x\n    ports:\n      - target: 80\n      - target: x\n",
			want:    `stack/compose.yaml:6: services.api.ports.1.target: "x" is not an integer`},
		{name: "unknown key in a list item",
			compose: "services:\n  api:\n    image: x\n    ports:\n      - target: 80\n        bogus: 1\n",
			want:    `stack/compose.yaml:6: services.api.ports.0.bogus: unknown key`},
		{name: "unknown top-level key",
			compose: "services:\n  api:\n    image: x\nservice: {}\n",
			want:    `stack/compose.yaml:4: service: unknown key`},
		{name: "label key with dots",
			compose: "services:\n  api:\n    image: x\n    labels:\n      com.example.ok: a\n      com.example.bad: [1]\n",
			want:    `stack/compose.yaml:6: services.api.labels.com.example.bad: must be a boolean, null, number or string`},
		{name: "enum",
			compose: "services:\n  api:\n    image: x\n    depends_on:\n      db:\n        condition: sometimes\n  db:\n    image: y\n",
			want:    `stack/compose.yaml:6: services.api.depends_on.db.condition: value must be one of 'service_started', 'service_healthy', 'service_completed_successfully'`},
		{name: "bad size",
			compose: "services:\n  api:\n    image: x\n    mem_limit: lots\n",
			want:    `stack/compose.yaml:4: services.api.mem_limit: invalid size: 'lots'`},
		{name: "cpus not a number",
			compose: "services:\n  api:\n    image: x\n    cpus: many\n",
			want:    `stack/compose.yaml:4: services.api.cpus: "many" is not a number`},
		{name: "invalid interpolation",
			compose: "services:\n  api:\n    image: x\n    environment:\n      A: ok\n      B: ${oops\n",
			want:    `stack/compose.yaml:6: services.api.environment.B: invalid interpolation format "${oops" (write $$ for a literal $)`},
		{name: "required variable in a list",
			compose: "services:\n  api:\n    image: x\n    command: [run, \"${A:-a}\", \"${B:?need B}\"]\n",
			want:    `stack/compose.yaml:4: services.api.command.2: required variable B is missing a value: need B`},
		{name: "undefined volume",
			compose: "services:\n  api:\n    image: x\n    volumes:\n      - ./here:/here\n      - data:/data\n",
			want:    `stack/compose.yaml:6: services.api.volumes.1: undefined volume "data": declare it under volumes:`},
		{name: "undefined secret, long syntax",
			compose: "services:\n  api:\n    image: x\n    secrets:\n      - source: token\n        target: t\n",
			want:    `stack/compose.yaml:5: services.api.secrets.0: undefined secret "token": declare it under secrets:`},
		{name: "bad healthcheck test",
			compose: "services:\n  api:\n    image: x\n    healthcheck:\n      test: [\"RUN\", \"true\"]\n",
			want:    `stack/compose.yaml:5: services.api.healthcheck.test: must start with CMD, CMD-SHELL or NONE, not "RUN"`},
		{name: "same host port twice",
			compose: "services:\n  a:\n    image: x\n    ports: [\"8080:80\"]\n  b:\n    image: x\n    ports:\n      - \"9090:90\"\n      - \"8080:8080\"\n",
			want:    `stack/compose.yaml:9: services.b.ports.1: host port 8080/tcp is already published by service "a"`},
		{name: "remote build context",
			compose: "services:\n  api:\n    build: https://example.invalid/repo.git\n",
			want:    `stack/compose.yaml:3: services.api.build: swdeploy builds from a local directory only, not https://example.invalid/repo.git`},
		{name: "depends on a service in a disabled profile",
			compose: "services:\n  api:\n    image: x\n    depends_on: [db]\n  db:\n    image: y\n    profiles: [db]\n",
			want:    `stack/compose.yaml:4: services.api.depends_on.0: depends on "db", which is in no enabled profile (it needs one of: db)`},
		{name: "secret without a source",
			compose: "services:\n  api:\n    image: x\n    secrets: [s]\nsecrets:\n  s: {}\n",
			want:    `stack/compose.yaml:6: secrets.s: one of file|environment must be set`},

		{name: "first problem in name order",
			compose: "services:\n  b:\n    build: {}\n  a:\n    image: x\n    restart: sometimes\n",
			want:    `stack/compose.yaml:6: services.a.restart: unknown restart policy "sometimes" (want no, always, on-failure[:N] or unless-stopped)`},
		{name: "a check only compose-go makes: its message, at the service",
			compose: "services:\n  api:\n    build: {context: ., dockerfile: D, dockerfile_inline: FROM x}\n",
			want:    `stack/compose.yaml:2: service "api" declares mutualy exclusive dockerfile and dockerfile_inline`},
		{name: "a check only compose-go makes, with a path",
			compose: "services:\n  api:\n    image: x\n    scale: 2\n    deploy: {replicas: 3}\n",
			want:    `stack/compose.yaml:2: services.api: can't set distinct values on 'scale' and 'deploy.replicas'`},

		// several files: the error names the one at fault
		{name: "override: unknown key",
			extra: "services:\n  api:\n    imagee: y\n",
			want:  `dev.yaml:3: services.api.imagee: unknown key`},
		{name: "override: interpolation",
			extra: "services:\n  api:\n    image: ${TAG:?set TAG}\n",
			want:  `dev.yaml:3: services.api.image: required variable TAG is missing a value: set TAG`},
		{name: "override: bad port",
			extra: "services:\n  redis:\n    ports: [\"6379:abc\"]\n",
			want:  `dev.yaml:3: services.redis.ports.0: invalid port "6379:abc": invalid containerPort: abc`},
		{name: "override: YAML",
			extra: "services:\n  api: [\n",
			want:  `dev.yaml:3: invalid YAML: did not find expected node content`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"Dockerfile": "FROM scratch\n", "stack/compose.yaml": tt.compose}
			if tt.compose == "" {
				files["stack/compose.yaml"] = string(realCompose(t))
			}
			opts := Options{Environ: tt.environ}
			if tt.extra != "" {
				files["dev.yaml"] = tt.extra
				opts.Files = []string{"stack/compose.yaml", "dev.yaml"}
			}
			opts.WorkDir = writeFiles(t, files)
			want := tt.want
			if tt.at != "" {
				want = fmt.Sprintf(want, lineOf(t, files["stack/compose.yaml"], tt.at))
			}
			_, err := Load(context.Background(), opts)
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v (%T), want a *FileError", err, err)
			}
			if err.Error() != want {
				t.Errorf("got  %s\nwant %s", err, want)
			}
		})
	}
}

// go.yaml.in/yaml/v4 v4.0.0-rc.4 numbers its parser's lines from 0 and its
// scanner's from 1; source.syntaxError corrects for it. If an upgrade fixes
// the library, these lines move by one and this test says so.
func TestSyntaxErrorLines(t *testing.T) {
	for content, line := range map[string]int{
		"a: 1\nb:\n  c: 1\n d: 2\n": 4, // parser
		"a: 1\nb: \"x\n":            3, // scanner
		"a: 1\nb: *nope\n":          2, // composer
	} {
		src := &source{display: "f", content: []byte(content)}
		err := src.parse()
		var fe *FileError
		if !errors.As(err, &fe) || fe.Line != line {
			t.Errorf("%q: err = %v, want line %d", content, err, line)
		}
	}
}
