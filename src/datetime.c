/*
** Edm.DateTimeOffset as Graph writes it:
**   YYYY-MM-DDTHH:MM:SS[.f{1,12}][Z|+hh:mm|-hh:mm]
** Graph's OpenAPI pattern allows 0 to 12 fractional digits. Text without a
** zone, which Graph sends in error envelopes, is read as UTC. Years run from
** 0001 to 9999 and offsets up to 14 hours, as in .NET's DateTimeOffset.
*/

#include "migration.h"

static int digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9') return 0;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 1;
}


static int is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}


/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}


const char *datetime_parse(const char *s, size_t len, datetime *out)
{
	static const int month_days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int year, month, day, hour, minute, second, oh = 0, om = 0, mdays;
	int64_t picos = 0;
	size_t i = 19;

	if (len < 19 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':'
	    || !digits(s, 4, &year) || !digits(s + 5, 2, &month) || !digits(s + 8, 2, &day)
	    || !digits(s + 11, 2, &hour) || !digits(s + 14, 2, &minute) || !digits(s + 17, 2, &second))
		return "not in the form YYYY-MM-DDTHH:MM:SS";

	if (i < len && s[i] == '.') {
		int n = 0;
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, n++) {
			if (n == 12) return "more than 12 fractional digits";
			picos = picos * 10 + (s[i] - '0');
		}
		if (n == 0) return "no digits after the decimal point";
		for (; n < 12; n++) picos *= 10;
	}

	out->has_zone = i < len;
	if (i < len && s[i] == 'Z') {
		i++;
	}
	else if (i < len && (s[i] == '+' || s[i] == '-')) {
		if (len - i != 6 || s[i + 3] != ':' || !digits(s + i + 1, 2, &oh) || !digits(s + i + 4, 2, &om))
			return "offset not in the form +hh:mm or -hh:mm";
		if (om > 59 || oh > 14 || (oh == 14 && om > 0)) return "offset out of range";
		if (s[i] == '-') { oh = -oh; om = -om; }
		i += 6;
	}
	if (i != len) return "unexpected text after the time";

	if (year < 1) return "year out of range";
	if (month < 1 || month > 12) return "month out of range";
	mdays = month_days[month - 1] + (month == 2 && is_leap(year));
	if (day < 1 || day > mdays) return "day out of range";
	if (hour > 23) return "hour out of range";
	if (minute > 59) return "minute out of range";
	if (second > 59) return "second out of range";

	out->offset_minutes = oh * 60 + om;
	out->seconds = days_from_civil(year, month, day) * 86400
	             + (int64_t)hour * 3600 + (int64_t)minute * 60 + second - (int64_t)out->offset_minutes * 60;
	out->picoseconds = picos;
	return NULL;
}
