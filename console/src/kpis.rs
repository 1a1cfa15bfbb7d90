//! A tenant's services and their KPIs (docs/KPIS.md): appointment and application figures
//! from platform events, with the satisfaction of the entrypoints that rate each service
//! beside them, shared by the REST API and the console's pages.

use chrono_tz::Tz;
use satisfy_aggregator::kpi::{
    self, Figure, FigureKind, KpiScope, Period, PeriodKpis, Places, periods_with_history,
};
use satisfy_aggregator::{Filter, Granularity, StoreError};
use satisfy_core::{Entrypoint, TenantId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::ConsoleState;
use crate::stats::{Range, RangeError, StatsParams};
use crate::store::ConfigError;

/// Query string of a KPI request; every field is optional.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KpiParams {
    /// A named period ending today: `7d`, `30d`, `90d`, `month`, `last-month`, `year`,
    /// or `custom` (the default: `from` and `to`).
    pub period: Option<String>,
    /// `week` (default), `day` or `month`.
    pub granularity: Option<String>,
    /// First date, `YYYY-MM-DD` (default: 12 periods back).
    pub from: Option<String>,
    /// Last date, `YYYY-MM-DD` (default: today).
    pub to: Option<String>,
    /// Only this office.
    pub office: Option<String>,
    /// Only this calendar (appointment figures).
    pub calendar: Option<String>,
}

impl KpiParams {
    /// The validated range.
    pub fn range(&self, today: chrono::NaiveDate) -> Result<Range, RangeError> {
        StatsParams {
            period: self.period.clone(),
            granularity: self.granularity.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
        }
        .resolve(today)
    }

    fn scope(&self, service: &str) -> KpiScope {
        let given = |v: &Option<String>| v.clone().filter(|v| !v.trim().is_empty());
        KpiScope {
            service: Some(service.to_owned()),
            office: given(&self.office),
            calendar: given(&self.calendar),
        }
    }
}

/// Why KPIs could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KpiError {
    /// The configuration store failed.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The analytics store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The range is invalid.
    #[error(transparent)]
    Range(#[from] RangeError),
}

/// A service of the tenant: named in its platform events or by an entrypoint.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ServiceInfo {
    /// The `service` id of the events.
    pub id: String,
    /// Its display name, from the latest event that gave one.
    pub name: Option<String>,
    /// The entrypoints rating it.
    pub entrypoints: Vec<String>,
}

/// The services of a tenant, by id: those its events name (with their names) and those
/// its entrypoints rate.
pub fn services(
    named: Vec<(String, Option<String>)>,
    entrypoints: &[Entrypoint],
) -> Vec<ServiceInfo> {
    let mut services: BTreeMap<String, ServiceInfo> = named
        .into_iter()
        .map(|(id, name)| {
            let info = ServiceInfo {
                id: id.clone(),
                name,
                entrypoints: Vec::new(),
            };
            (id, info)
        })
        .collect();
    for entrypoint in entrypoints {
        if let Some(service) = &entrypoint.service {
            services
                .entry(service.clone())
                .or_insert_with(|| ServiceInfo {
                    id: service.clone(),
                    name: None,
                    entrypoints: Vec::new(),
                })
                .entrypoints
                .push(entrypoint.id.as_str().to_owned());
        }
    }
    services.into_values().collect()
}

/// Ratings of a service in one period.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Satisfaction {
    /// How many.
    pub count: Figure,
    /// Their average stars (2 decimals); null without ratings.
    pub average: Figure,
}

/// One period of a service.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ServicePeriod {
    /// The appointment and application figures.
    #[serde(flatten)]
    pub kpis: PeriodKpis,
    /// The ratings of the entrypoints rating the service.
    pub satisfaction: Satisfaction,
}

/// The KPIs of one service over a range.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ServiceKpis {
    /// The service id.
    pub service: String,
    /// Its display name.
    pub name: Option<String>,
    /// Period size.
    pub granularity: Granularity,
    /// IANA zone of the periods.
    pub timezone: String,
    /// One entry per period of the range.
    pub periods: Vec<ServicePeriod>,
    /// The offices and calendars its events name, for the console's filters.
    #[serde(skip)]
    pub places: Places,
}

/// What a KPI page reads once for all its services; each service's events are read when
/// its KPIs are asked for.
pub struct KpiSource {
    tenant: TenantId,
    tz: Tz,
    range: Range,
    periods: Vec<Period>,
    services: Vec<ServiceInfo>,
    entrypoints: Vec<Entrypoint>,
}

impl KpiSource {
    /// Reads the tenant's events and entrypoints for `params`.
    pub async fn load(
        state: &ConsoleState,
        tenant: &TenantId,
        params: &KpiParams,
    ) -> Result<KpiSource, KpiError> {
        let tz = crate::stats::tenant_time_zone(state, tenant).await?;
        let today = chrono::Utc::now().with_timezone(&tz).date_naive();
        let range = params.range(today).map_err(KpiError::Range)?;
        let periods = periods_with_history(range.granularity, tz, range.from, range.to)
            .ok_or(KpiError::Range(RangeError::OutOfCalendar))?;
        let entrypoints = state.store.entrypoints(tenant).await?;
        Ok(KpiSource {
            tenant: tenant.clone(),
            tz,
            range,
            periods,
            services: services(state.events.services(tenant).await?, &entrypoints),
            entrypoints,
        })
    }

    /// The validated range.
    pub fn range(&self) -> Range {
        self.range
    }

    /// The tenant's entrypoints.
    pub fn entrypoints(&self) -> &[Entrypoint] {
        &self.entrypoints
    }

    /// The tenant's services.
    pub fn services(&self) -> Vec<ServiceInfo> {
        self.services.clone()
    }

    /// The KPIs of `service`, with its satisfaction.
    pub async fn service(
        &self,
        state: &ConsoleState,
        service: &ServiceInfo,
        params: &KpiParams,
    ) -> Result<ServiceKpis, KpiError> {
        let activity = state
            .events
            .service_activity(&self.tenant, &service.id)
            .await?;
        let places = activity.places();
        let input = activity.narrowed(&params.scope(&service.id));
        let figures = kpi::kpis(&input, &self.periods);
        let satisfaction = self.satisfaction(state, service).await?;
        let first = self.periods.len() - figures.len();
        let periods = figures
            .into_iter()
            .enumerate()
            .map(|(offset, kpis)| ServicePeriod {
                kpis,
                satisfaction: satisfaction_at(&satisfaction, first + offset),
            })
            .collect();
        Ok(ServiceKpis {
            service: service.id.clone(),
            name: service.name.clone(),
            granularity: self.range.granularity,
            timezone: self.tz.name().to_owned(),
            periods,
            places,
        })
    }

    /// (count, stars sum) of the service's ratings in every period, history included.
    async fn satisfaction(
        &self,
        state: &ConsoleState,
        service: &ServiceInfo,
    ) -> Result<Vec<(u64, u64)>, KpiError> {
        let mut totals = vec![(0, 0); self.periods.len()];
        let (Some(first), Some(last)) = (self.periods.first(), self.periods.last()) else {
            return Ok(totals);
        };
        for entrypoint in self
            .entrypoints
            .iter()
            .filter(|e| e.service.as_deref() == Some(service.id.as_str()))
        {
            let filter = Filter {
                tenant: entrypoint.tenant.clone(),
                entrypoint: Some(entrypoint.id.clone()),
                from: first.start,
                to: last.end.pred_opt().unwrap_or(last.end),
                tz: self.tz,
            };
            let buckets = state
                .analytics
                .buckets(&filter, self.range.granularity)
                .await?;
            for bucket in buckets {
                if let Some(index) = self.periods.iter().position(|p| p.start == bucket.start) {
                    totals[index].0 += bucket.tally.count;
                    totals[index].1 += bucket.tally.sum;
                }
            }
        }
        Ok(totals)
    }
}

fn satisfaction_at(totals: &[(u64, u64)], index: usize) -> Satisfaction {
    let counts: Vec<Option<f64>> = totals.iter().map(|(n, _)| Some(*n as f64)).collect();
    let averages: Vec<Option<f64>> = totals
        .iter()
        .map(|(n, sum)| (*n > 0).then(|| ((*sum as f64 / *n as f64) * 100.0).round() / 100.0))
        .collect();
    Satisfaction {
        count: kpi::figure(&counts, index, FigureKind::Amount),
        average: kpi::figure(&averages, index, FigureKind::Amount),
    }
}
