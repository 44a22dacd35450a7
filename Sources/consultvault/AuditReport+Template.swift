import VaultCore

extension AuditReport {
    /// The report page. Only `{{…}}` (escaped) tags: no value can inject markup.
    static let template = """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title>ConsultVault access report {{since}} – {{until}}</title>
        <style>
        body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
        h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; }
        table { border-collapse: collapse; margin-top: .5em; }
        th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
        th { background: #f3f3f3; } td.n { text-align: right; }
        .ok { color: #176117; } .bad { color: #a31515; font-weight: bold; }
        .pending { color: #a35a00; font-weight: bold; } .empty { color: #777; }
        </style>
        </head>
        <body>
        <h1>Access report, vault {{vault}}</h1>
        <p>Period {{since}} to {{until}} (UTC, end exclusive). Generated {{generated_at}} by auditor {{generated_by}}.</p>
        <p id="verification" class="{{#verified}}ok{{/verified}}{{^verified}}bad{{/verified}}">Log verification: {{verification}}</p>

        <h2>Log entries per actor per day</h2>
        {{#chart}}
        <svg id="accesses-chart" xmlns="http://www.w3.org/2000/svg" width="{{width}}" height="{{height}}" viewBox="0 0 {{width}} {{height}}" role="img" aria-label="log entries per actor per day">
        <line x1="{{left}}" y1="{{bottom}}" x2="{{right}}" y2="{{bottom}}" stroke="#444"/>
        <line x1="{{left}}" y1="{{top}}" x2="{{left}}" y2="{{bottom}}" stroke="#444"/>
        <text x="{{left}}" y="{{top}}" dx="-6" text-anchor="end" font-size="11">{{max}}</text>
        <text x="{{left}}" y="{{bottom}}" dx="-6" text-anchor="end" font-size="11">0</text>
        {{#bars}}<rect class="bar" x="{{x}}" y="{{y}}" width="{{w}}" height="{{h}}" fill="{{color}}"><title>{{title}}</title></rect>
        {{/bars}}
        {{#days}}<text x="{{x}}" y="{{bottom}}" dy="16" text-anchor="middle" font-size="10">{{label}}</text>
        {{/days}}
        {{#legend}}<rect x="{{legend_x}}" y="{{y}}" width="10" height="10" fill="{{color}}"/><text x="{{legend_x}}" y="{{y}}" dx="14" dy="9" font-size="11">{{name}}</text>
        {{/legend}}
        </svg>
        {{/chart}}
        {{#has_actors}}
        <table id="accesses">
        <tr><th>actor</th>{{#days}}<th>{{.}}</th>{{/days}}<th>total</th></tr>
        {{#actors}}<tr><td>{{actor}}</td>{{#counts}}<td class="n">{{.}}</td>{{/counts}}<td class="n">{{total}}</td></tr>
        {{/actors}}
        </table>
        {{/has_actors}}
        {{^has_actors}}<p class="empty">No entries in this period.</p>{{/has_actors}}

        <h2>Break-glass</h2>
        {{#has_break_glass}}
        <table id="break-glass">
        <tr><th>seq</th><th>time</th><th>supervisor</th><th>target</th><th>reason</th><th>review</th><th>reviewer</th><th>comment</th></tr>
        {{#break_glass}}<tr class="break-glass"><td>{{seq}}</td><td>{{time}}</td><td>{{actor}}</td><td>{{target}}</td><td>{{reason}}</td><td class="{{state}}">{{state}}</td><td>{{reviewer}}</td><td>{{comment}}</td></tr>
        {{/break_glass}}
        </table>
        {{/has_break_glass}}
        {{^has_break_glass}}<p class="empty">No break-glass in this period.</p>{{/has_break_glass}}

        <h2>Denied attempts</h2>
        {{#has_denied}}
        <table id="denied">
        <tr><th>seq</th><th>time</th><th>actor</th><th>role</th><th>action</th><th>target</th></tr>
        {{#denied}}<tr class="denied"><td>{{seq}}</td><td>{{time}}</td><td>{{actor}}</td><td>{{role}}</td><td>{{action}}</td><td>{{target}}</td></tr>
        {{/denied}}
        </table>
        {{/has_denied}}
        {{^has_denied}}<p class="empty">No denied attempts in this period.</p>{{/has_denied}}

        <h2>Unlock failures</h2>
        {{#has_unlock_failures}}
        <table id="unlock-failures">
        <tr><th>seq</th><th>time</th><th>username tried</th><th>target</th></tr>
        {{#unlock_failures}}<tr class="unlock-failure"><td>{{seq}}</td><td>{{time}}</td><td>{{actor}}</td><td>{{target}}</td></tr>
        {{/unlock_failures}}
        </table>
        {{/has_unlock_failures}}
        {{^has_unlock_failures}}<p class="empty">No unlock failures in this period.</p>{{/has_unlock_failures}}
        </body>
        </html>

        """
}
