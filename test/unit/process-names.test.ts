/** Exact name matching (src/locate/process-names.ts): never a bare prefix. */
import {describeNames, matchName, processNames} from '../../src/locate/process-names'

const names = (comm: string, exe: string | null, ...argv: string[]) => processNames(comm, exe, argv)

describe('processNames: the forms a process is named by', () => {
  test.each([
    // [comm, exe link, cmdline, expected fields]
    ['nginx', '/usr/sbin/nginx', ['nginx: master process /usr/sbin/nginx -g daemon on;'], {argv0: 'nginx', title: 'nginx', script: null}],
    ['postgres', '/usr/lib/postgresql/15/bin/postgres', ['postgres: 15/main: checkpointer '], {argv0: 'postgres', title: 'postgres'}],
    ['sshd', '/usr/sbin/sshd', ['sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups'], {title: 'sshd'}],
    ['php-fpm8.2', '/usr/sbin/php-fpm8.2', ['php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)'], {title: 'php-fpm'}],
    ['python3', '/usr/bin/python3.11', ['/usr/bin/python3', 'app.py'], {exe: 'python3.11', argv0: 'python3', script: 'app.py'}],
    ['gunicorn', '/usr/bin/python3.11', ['/usr/bin/python3', '/usr/bin/gunicorn', '--pid', '/run/g.pid', 'app:app'], {script: 'gunicorn'}],
    ['python3', '/usr/bin/python3.11', ['python3', '-u', '-m', 'http.server', '8000'], {script: 'http.server'}],
    ['python3', '/usr/bin/python3.11', ['python3', '-c', 'import time; time.sleep(9)'], {script: null}],
    ['node', '/usr/bin/node', ['node', '--require', 'dotenv/config', '/srv/api/server.js'], {script: 'server.js'}],
    ['java', '/usr/lib/jvm/bin/java', ['java', '-Xmx1g', '-cp', 'lib/*', 'com.example.Server'], {script: 'Server'}],
    ['java', '/usr/lib/jvm/bin/java', ['java', '-jar', '/opt/app/billing.jar'], {script: 'billing.jar'}],
    ['ruby', '/usr/bin/ruby3.1', ['ruby', '-w', 'worker.rb'], {script: 'worker.rb'}],
    ['perl', '/usr/bin/perl', ['/usr/bin/perl', '-T', '/usr/sbin/spamd'], {script: 'spamd'}],
    ['sh', '/usr/bin/dash', ['/bin/sh', '/etc/init.d/thing', 'start'], {script: 'thing'}],
    ['sleep', '/usr/bin/sleep', ['sleep', '60'], {script: null, title: null}],
    ['x', null, [], {exe: null, argv0: null, script: null}],
  ])('%s %s %j', (comm, exe, argv, want) => {
    expect(processNames(comm, exe, argv)).toMatchObject(want)
  })
  test('a deleted executable keeps its name', () => {
    expect(processNames('app', '/usr/bin/app (deleted)', ['app']).exe).toBe('app')
  })
})

describe('matchName', () => {
  test.each([
    // [process, wanted names, matches?]
    [names('sh', '/usr/bin/dash', 'sh'), ['s'], false],
    [names('sleep', '/usr/bin/sleep', 'sleep', '9'), ['s'], false],
    [names('sshd', '/usr/sbin/sshd', 'sshd: x'), ['s'], false],
    [names('python3', '/usr/bin/python3.11', 'python3', 'app.py'), ['py'], false],
    [names('python3', '/usr/bin/python3.11', 'python3', 'app.py'), ['app'], true],
    [names('python3', '/usr/bin/python3.11', 'python3', 'app.py'), ['app.py'], true],
    [names('python3', '/usr/bin/python3.11', 'python3', 'app.py'), ['python3'], true],
    [names('python3', '/usr/bin/python3.11', 'python3', 'app.py'), ['python3.11'], true],
    [names('python3', '/usr/bin/python3.11', 'python3', 'app.py'), ['ap'], false],
    [names('dockerd', '/usr/bin/dockerd', 'dockerd'), ['docker'], true],
    [names('cron', '/usr/sbin/cron', '/usr/sbin/cron', '-f'), ['crond'], true],
    [names('cron', '/usr/sbin/cron', 'cron'), ['cro'], false],
    [names('postgresql-clus', '/usr/bin/perl', 'perl'), ['postgresql-cluster'], true], // the kernel's 15-character cut
    [names('postgresql-clu', '/usr/bin/perl', 'perl'), ['postgresql-cluster'], false],
    [names('nginx', '/usr/sbin/nginx', 'nginx: worker process'), ['nginx'], true],
    [names('php-fpm8.2', '/usr/sbin/php-fpm8.2', 'php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)'), ['php-fpm'], true],
    [names('postgres', '/usr/lib/postgresql/15/bin/postgres', '/usr/lib/postgresql/15/bin/postgres', '-D', '/var/lib/postgresql/15/main'), ['15-main'], false],
    [names('gunicorn', '/usr/bin/python3.11', '/usr/bin/python3', '/usr/bin/gunicorn', 'app:app'), ['gunicorn'], true],
    [names('java', '/usr/lib/jvm/bin/java', 'java', '-jar', 'billing.jar'), ['billing'], true],
    [names('python3', '/usr/bin/python3.11', 'python3', '-m', 'http.server'), ['server'], true],
  ])('%j for %j: %s', (n, wanted, ok) => {
    expect(matchName(n, wanted) !== null).toBe(ok)
  })
  test('an explicit --process-name does not take the d suffix', () => {
    expect(matchName(names('dockerd', '/usr/bin/dockerd', 'dockerd'), ['docker'], false)).toBeNull()
    expect(matchName(names('dockerd', '/usr/bin/dockerd', 'dockerd'), ['dockerd'], false)).toBe('comm "dockerd"')
  })
  test('says which form matched, and describeNames lists every value compared', () => {
    const n = names('python3', '/usr/bin/python3.11', '/usr/bin/python3', '/srv/app.py')
    expect(matchName(n, ['nope', 'app'])).toBe('script "app"')
    expect(describeNames(n)).toBe('comm "python3", exe "python3.11", argv[0] "python3", script "app.py"')
    expect(matchName(names('cron', null, 'cron'), ['crond'])).toBe('comm "cron" (for "crond")')
  })
})
