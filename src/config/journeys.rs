//! Compiles a scenario's steps into the engine's [`Journey`]: each step
//! an endpoint named `SCENARIO.STEP`, its templates compiled with the
//! captures of the steps before it in scope, its captures given slots.

use http::HeaderName;

use super::load::{At, endpoint};
use super::scenarios::{ConditionSpec, ScenarioSpec, SourceSpec, StepSpec};
use crate::load::journey::{Capture, Condition, Journey, Poll, Source, Step};
use crate::load::template::TemplateContext;
use crate::load::{Endpoint, Origin};

/// Compiles `sc`'s steps, adding their endpoints to `endpoints`.
pub fn build(
    sc: &ScenarioSpec,
    endpoints: &mut Vec<Endpoint>,
    ctx: &mut TemplateContext,
    origin: &Origin,
    base_path: &str,
    http2: bool,
) -> Result<Journey, String> {
    let mut slots: Vec<String> = Vec::new();
    let mut compile = |specs: &[StepSpec], endpoints: &mut Vec<Endpoint>| -> Result<Vec<Step>, String> {
        let mut steps = Vec::new();
        for spec in specs {
            ctx.set_captured(&slots);
            let mut request = spec.request.clone();
            request.name.value = format!("{}.{}", sc.name.value, spec.request.name.value);
            let mut ep = endpoint(endpoints.len(), &request, origin, base_path, http2, ctx)?;
            let mut captures = Vec::new();
            for (name, source) in &spec.captures {
                let slot = match slots.iter().position(|s| *s == name.value) {
                    Some(i) => i,
                    None => {
                        slots.push(name.value.clone());
                        slots.len() - 1
                    }
                };
                captures.push(Capture {
                    name: name.value.clone(),
                    slot,
                    from: compile_source(source)?,
                });
            }
            let poll = match &spec.poll {
                None => None,
                Some(p) => Some(Poll {
                    until: condition(&p.until)?,
                    fail_if: p.fail_if.as_ref().map(condition).transpose()?,
                    interval: p.interval,
                    timeout: p.timeout,
                    max_attempts: p.max_attempts,
                }),
            };
            let mut sources: Vec<&Source> = captures.iter().map(|c| &c.from).collect();
            if let Some(p) = &poll {
                sources.push(&p.until.source);
                sources.extend(p.fail_if.as_ref().map(|f| &f.source));
            }
            for s in sources {
                match s {
                    Source::Json(_) | Source::Regex(..) => ep.keep_body = true,
                    Source::Header(h) => {
                        if !ep.keep_headers.contains(h) {
                            ep.keep_headers.push(h.clone());
                        }
                    }
                }
            }
            if sc.cookies && !ep.keep_headers.contains(&http::header::SET_COOKIE) {
                ep.keep_headers.push(http::header::SET_COOKIE);
            }
            steps.push(Step {
                cookie_path: match &ep.uri {
                    Some(u) => u.path().to_string(),
                    None => ep.path.skeleton(),
                },
                own_cookie: ep.headers.contains_key(http::header::COOKIE)
                    || ep.header_templates.iter().any(|(n, _)| n == http::header::COOKIE),
                name: spec.request.name.value.clone(),
                endpoint: ep.index,
                captures,
                required: spec.required,
                poll,
                think: spec.think,
            });
            endpoints.push(ep);
        }
        Ok(steps)
    };
    let on_start = compile(&sc.on_start, endpoints)?;
    let steps = compile(&sc.steps, endpoints)?;
    Ok(Journey {
        on_start,
        steps,
        session: sc.session,
        cookies: sc.cookies,
        slots: slots.len(),
    })
}

fn compile_source(s: &At<SourceSpec>) -> Result<Source, String> {
    Ok(match &s.value {
        SourceSpec::Json(p) => Source::Json(p.clone()),
        SourceSpec::Regex(re, group) => Source::Regex(
            regex::Regex::new(re).map_err(|e| s.err(format!("not a valid regular expression: {e}")))?,
            *group,
        ),
        SourceSpec::Header(h) => {
            Source::Header(HeaderName::from_bytes(h.as_bytes()).map_err(|_| s.err("not a valid header name"))?)
        }
    })
}

fn condition(c: &At<ConditionSpec>) -> Result<Condition, String> {
    Ok(Condition {
        source: compile_source(&At::new(c.value.source.clone(), c.at.clone()))?,
        test: c.value.test.clone(),
    })
}
